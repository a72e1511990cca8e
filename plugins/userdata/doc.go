// Package userdata serves DELETE /__user_data__/{principal} (PLUG-UD):
// operators listed in user-data_delete_principals wipe what a principal
// owns alone, and remove it from every other ACL and group.
package userdata

// Package admin is the admin plugin (PLUG-ADM): it serves a Kinto Admin
// build under /v1/admin/ and enables the /permissions endpoint Kinto Admin
// uses. The build is taken from admin_assets_path (a folder holding the
// single-page app built with asset path /v1/admin/ and a VERSION file);
// without it, a short page explains how to install one.
package admin

package accounts_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
	"github.com/nimbus-server/nimbus/storage/bolt"
)

// BenchmarkWritesDuringSignUps measures an unrelated bucket PUT on bolt,
// alone and while sign-ups run at the default bcrypt cost (8 at once), or
// while a sign-up waits on an SMTP server that takes 3 s to accept its
// activation e-mail. Slow work must stay out of the one writer, so the
// PUT's p99 should barely move. Run it by hand:
//
//	go test -run XXX -bench WritesDuringSignUps -benchtime 200x ./plugins/accounts/
func BenchmarkWritesDuringSignUps(b *testing.B) {
	for _, load := range []string{"idle", "8 sign-ups", "stalled smtp"} {
		b.Run(load, func(b *testing.B) {
			settings := map[string]string{"includes": "accounts", "multiauth.policies": "account",
				"account_create_principals": "system.Everyone", "bucket_create_principals": "system.Everyone"}
			var smtp *smtpServer
			if load == "stalled smtp" {
				smtp = newSMTP(b)
				smtp.stall = 3 * time.Second
				settings["account_validation"] = "true"
				settings["mail.host"], settings["mail.port"] = "127.0.0.1", smtp.port()
				settings["account_validation.email_sender"] = "noreply@nimbus.test"
			}
			backend, err := bolt.Open(filepath.Join(b.TempDir(), "w.db"), bolt.Options{})
			if err != nil {
				b.Fatal(err)
			}
			s := apitest.NewWithBackend(b, backend, settings)
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var n atomic.Int64
			workers := map[string]int{"idle": 0, "8 sign-ups": 8, "stalled smtp": 1}[load]
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						id := fmt.Sprintf("user%d@example.org", n.Add(1))
						req, _ := http.NewRequest("PUT", s.URL+"/v1/accounts/"+id, strings.NewReader(`{"data":{"password":"a-long-password"}}`))
						req.Header.Set("Content-Type", "application/json")
						if res, err := http.DefaultClient.Do(req); err == nil {
							res.Body.Close()
						}
					}
				}()
			}
			time.Sleep(300 * time.Millisecond) // let the sign-ups start
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				req, _ := http.NewRequest("PUT", fmt.Sprintf("%s/v1/buckets/b%d", s.URL, i), nil)
				res, err := http.DefaultClient.Do(req)
				if err != nil || res.StatusCode != 201 {
					b.Fatalf("bucket PUT: %v %v", err, res)
				}
				res.Body.Close()
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			close(stop)
			wg.Wait()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
		})
	}
}

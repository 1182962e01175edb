package control_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/clinchsso/clinch/mail/outbox"
)

type fakeMail outbox.Status

func (f fakeMail) Status(context.Context) (outbox.Status, error) { return outbox.Status(f), nil }

func TestMailStatus(t *testing.T) {
	failedAt := time.Date(2026, 11, 23, 17, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		mail fakeMail
		want []string
	}{
		{"nothing failed", fakeMail{Transport: "smtp mail.example.com:587", Queued: 2, Capacity: 1000, Sent: 5},
			[]string{"transport:     smtp mail.example.com:587", "queued:        2 of 1000", "sent:          5 ", "given up:      0 ", "last failure:  none since the server started"}},
		{"a failure", fakeMail{Transport: "smtp mail.example.com:587", Capacity: 1000, Failed: 1, LastFailure: failedAt, LastError: "451 4.3.0\ntry again later"},
			[]string{"given up:      1 ", "last failure:  2026-11-23T17:04:05Z: 451 4.3.0 try again later"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := appEnv(t)
			env.Mail = tt.mail
			out := mustRun(t, env, "mail status")
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if js := mustRun(t, env, "mail status --json"); !strings.Contains(js, `"capacity": 1000`) {
				t.Errorf("JSON: %s", js)
			}
		})
	}
}

func TestMailStatus_NeedsTheServer(t *testing.T) {
	_, errOut, code := run(t, appEnv(t), "mail status")
	if code != 1 || !strings.Contains(errOut, "no server is running") {
		t.Errorf("exit %d, %q", code, errOut)
	}
}

package control

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/clinchsso/clinch/mail/outbox"
)

// MailStatus is what `clinch mail status` asks of the running server's
// mail queue; *outbox.Outbox is one.
type MailStatus interface {
	Status(ctx context.Context) (outbox.Status, error)
}

// mailCommands are the `clinch mail ...` commands.
func mailCommands() []Command {
	return []Command{
		{Name: "mail status", Summary: "[--json]  the mail queue of the running server: depth, messages sent and given up, the last failure and why", Run: mailStatus},
	}
}

// errMailNoServer: the queue's counters and last failure live in the
// server, so the command needs one.
var errMailNoServer = errors.New("no server is running on this data directory; the mail queue is the running server's (start it, then ask again)")

func mailStatus(ctx context.Context, env *Env, args []string, out io.Writer) error {
	fs := newFlags("mail status")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if env.Mail == nil {
		return errMailNoServer
	}
	st, err := env.Mail.Status(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(out, st)
	}
	last := "none since the server started"
	if !st.LastFailure.IsZero() {
		last = ts(st.LastFailure) + ": " + oneLine(st.LastError)
	}
	_, err = fmt.Fprintf(out, "transport:     %s\nqueued:        %d of %d\noldest queued: %s\nsent:          %d since the server started\ngiven up:      %d since the server started\nlast failure:  %s\n",
		st.Transport, st.Queued, st.Capacity, ts(st.Oldest), st.Sent, st.Failed, last)
	return err
}

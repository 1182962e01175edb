package harness

import (
	"context"
	"strings"
	"sync"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/chromedp"
)

// console keeps what Chromium logs for a tab (CSP violations such as
// "Sending form data to … violates … form-action", refused connections,
// script errors), so a step that fails can say why the page did not move.
type console struct {
	mu    sync.Mutex
	lines []string
}

type consoleKey struct{}

// withConsole starts keeping ctx's tab's log entries and returns a context
// that carries them.
func withConsole(ctx context.Context) (context.Context, error) {
	c := &console{}
	err := chromedp.Listen(ctx, func(ev any) {
		e, ok := ev.(*log.EventEntryAdded)
		if !ok || e.Entry == nil {
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		// The last entries are the ones that explain a failure; a long
		// test must not grow this without bound.
		if len(c.lines) >= 50 {
			c.lines = c.lines[1:]
		}
		c.lines = append(c.lines, string(e.Entry.Level)+" "+string(e.Entry.Source)+": "+e.Entry.Text)
	})
	if err != nil {
		return ctx, err
	}
	return context.WithValue(ctx, consoleKey{}, c), nil
}

// consoleText returns the tab's log entries so far, one per line, or ""
// when there are none.
func consoleText(ctx context.Context) string {
	c, ok := ctx.Value(consoleKey{}).(*console)
	if !ok {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.lines) == 0 {
		return ""
	}
	return "\nbrowser console:\n  " + strings.Join(c.lines, "\n  ")
}

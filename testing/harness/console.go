package harness

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// tabRecord keeps what happens in a tab that the page itself does not
// show: Chromium's log (CSP violations such as "Sending form data to …
// violates … form-action", refused connections), so a step that fails can
// say why the page did not move; and the URL of every page requested,
// redirects included, so a test can check the way a flow took.
type tabRecord struct {
	mu    sync.Mutex
	lines []string
	pages []string
}

type recordKey struct{}

// recordLimit bounds each list: a long test must not grow them without
// bound, and the last entries are the ones that explain a failure.
const recordLimit = 200

func keep(list []string, s string) []string {
	if len(list) >= recordLimit {
		list = list[1:]
	}
	return append(list, s)
}

// withRecord starts recording ctx's tab and returns a context that
// carries the record.
func withRecord(ctx context.Context) (context.Context, error) {
	r := &tabRecord{}
	err := chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *log.EventEntryAdded:
			if e.Entry == nil {
				return
			}
			r.mu.Lock()
			r.lines = keep(r.lines, string(e.Entry.Level)+" "+string(e.Entry.Source)+": "+e.Entry.Text)
			r.mu.Unlock()
		case *network.EventRequestWillBeSent:
			if e.Type != network.ResourceTypeDocument || e.Request == nil {
				return
			}
			r.mu.Lock()
			r.pages = keep(r.pages, e.Request.URL)
			r.mu.Unlock()
		}
	})
	if err != nil {
		return ctx, err
	}
	return context.WithValue(ctx, recordKey{}, r), nil
}

// consoleText returns the tab's log entries so far, one per line, or ""
// when there are none.
func consoleText(ctx context.Context) string {
	r, ok := ctx.Value(recordKey{}).(*tabRecord)
	if !ok {
		return ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.lines) == 0 {
		return ""
	}
	return "\nbrowser console:\n  " + strings.Join(r.lines, "\n  ")
}

// visited returns the URLs of the pages the tab requested so far.
func visited(ctx context.Context) []string {
	r, ok := ctx.Value(recordKey{}).(*tabRecord)
	if !ok {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.pages)
}

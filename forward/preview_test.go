package forward

import (
	"context"
	"slices"
	"testing"
)

// The admin's preview must show what /api/verify really sends: for each
// app's header names (defaults, renamed, one turned off), the preview and a
// verify answer for the same signed-in user carry the same values.
func TestPreviewHeaders_AreWhatVerifySends(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cookie, _ := f.signIn("ann@example.com")
	u, err := f.svc.UserByEmail(ctx, "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	groups, err := f.svc.UserGroups(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ slug, host string }{{"wiki", "wiki.example.com"}, {"media", "tv.media.example.com"}} {
		t.Run(tc.slug, func(t *testing.T) {
			app, err := f.svc.AppBySlug(ctx, tc.slug)
			if err != nil {
				t.Fatal(err)
			}
			got := PreviewHeaders(app, u, groups)
			w := f.do(req{h: caddyHeaders("https", tc.host, "/"), cookie: cookie})
			if w.Code != 200 {
				t.Fatalf("verify: %d %s", w.Code, w.Body)
			}
			if len(got) == 0 || got.Get(app.EffectiveHeaders().User) != "ann" {
				t.Fatalf("preview %v has no user header", got)
			}
			for name, vals := range got {
				if sent := w.Header()[name]; !slices.Equal(sent, vals) {
					t.Errorf("%s: preview %q, verify sent %q", name, vals, sent)
				}
			}
			for _, name := range []string{"Remote-Email", "X-Webauth-Email"} {
				if _, inPreview := got[name]; inPreview != (w.Header()[name] != nil) {
					t.Errorf("%s: in the preview %v, sent %v", name, inPreview, w.Header()[name] != nil)
				}
			}
		})
	}
}

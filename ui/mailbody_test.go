package ui

import (
	"strings"
	"testing"

	"github.com/clinchsso/clinch/auth"
)

// Every message has both bodies with the link; the HTML escapes what the
// person typed (their display name) and the link's query.
func TestComposeMail_TextAndEscapedHTML(t *testing.T) {
	u := &auth.User{Email: "ann@example.com", DisplayName: `<b>Ann</b> & "Bob"`}
	link := "https://auth.example.com/x?token=tok_1&next=%2F"
	for _, name := range []string{"reset", "invitation", "magiclink"} {
		t.Run(name, func(t *testing.T) {
			m, err := composeMail(name, "Subject of "+name, u, link)
			if err != nil {
				t.Fatal(err)
			}
			if m.To != u.Email || m.Subject != "Subject of "+name {
				t.Errorf("to %q subject %q", m.To, m.Subject)
			}
			if !strings.HasPrefix(m.Text, "Hello <b>Ann</b> & \"Bob\",\n\n") || !strings.Contains(m.Text, "\n"+link+"\n") {
				t.Errorf("text body:\n%s", m.Text)
			}
			for _, want := range []string{
				"Hello &lt;b&gt;Ann&lt;/b&gt; &amp; &#34;Bob&#34;,",
				`href="https://auth.example.com/x?token=tok_1&amp;next=%2F"`,
				"<title>Subject of " + name + "</title>",
			} {
				if !strings.Contains(m.HTML, want) {
					t.Errorf("HTML lacks %s:\n%s", want, m.HTML)
				}
			}
			if strings.Contains(m.HTML, "<b>Ann") || strings.Contains(m.HTML, "<script") || strings.Contains(m.HTML, "style") {
				t.Errorf("HTML carries markup it should not:\n%s", m.HTML)
			}
		})
	}
}

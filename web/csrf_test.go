package web

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// csrfServer is CSRF around a handler that answers 204 to writes and
// prints the page token on reads.
func csrfServer(t *testing.T) http.Handler {
	t.Helper()
	site := testSite(t, "http://localhost:3000")
	return CSRF(site, CSRFExempt{"/oauth/token", "/api/"}, nil, nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			w.Write([]byte(CSRFToken(r)))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
}

// pageToken does a GET and returns the cookie and the token on the page.
func pageToken(t *testing.T, h http.Handler) (*http.Cookie, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "http://localhost:3000/signin", nil))
	var c *http.Cookie
	for _, x := range rec.Result().Cookies() {
		if x.Name == CSRFCookie {
			c = x
		}
	}
	if c == nil {
		t.Fatal("GET set no clinch_csrf cookie")
	}
	if rec.Body.String() != c.Value {
		t.Fatalf("page token %q differs from cookie %q", rec.Body.String(), c.Value)
	}
	return c, rec.Body.String()
}

func post(h http.Handler, path string, c *http.Cookie, token string, hdr map[string]string) int {
	form := url.Values{}
	if token != "" {
		form.Set(CSRFField, token)
	}
	req := httptest.NewRequest("POST", "http://localhost:3000"+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c != nil {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

func TestCSRF(t *testing.T) {
	h := csrfServer(t)
	c, tok := pageToken(t, h)
	other, _ := pageToken(t, h)
	tests := []struct {
		name   string
		path   string
		cookie *http.Cookie
		token  string
		hdr    map[string]string
		want   int
	}{
		{"good", "/signin", c, tok, nil, 204},
		{"good with same origin headers", "/signin", c, tok, map[string]string{"Origin": "http://localhost:3000", "Sec-Fetch-Site": "same-origin"}, 204},
		{"good with header token", "/signin", c, "", map[string]string{CSRFHeader: tok}, 204},
		{"missing token", "/signin", c, "", nil, 403},
		{"missing cookie", "/signin", nil, tok, nil, 403},
		{"wrong token", "/signin", c, other.Value, nil, 403},
		{"cross-origin Origin", "/signin", c, tok, map[string]string{"Origin": "https://evil.example"}, 403},
		{"sibling subdomain Origin", "/signin", c, tok, map[string]string{"Origin": "http://app.localhost:3000"}, 403},
		{"null Origin", "/signin", c, tok, map[string]string{"Origin": "null"}, 403},
		{"cross-site Sec-Fetch-Site", "/signin", c, tok, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"same-site Sec-Fetch-Site", "/signin", c, tok, map[string]string{"Sec-Fetch-Site": "same-site"}, 403},
		{"exempt exact path", "/oauth/token", nil, "", map[string]string{"Origin": "https://evil.example"}, 204},
		{"exempt prefix", "/api/verify", nil, "", nil, 204},
		{"exempt is not a prefix match without slash", "/oauth/tokenx", nil, "", nil, 403},
		{"dot segments do not borrow an exemption", "/api/../signin", nil, "", nil, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := post(h, tt.path, tt.cookie, tt.token, tt.hdr); got != tt.want {
				t.Errorf("status %d, want %d", got, tt.want)
			}
		})
	}
}

func TestCSRF_CookieAttributes(t *testing.T) {
	for _, tt := range []struct {
		host   string
		secure bool
	}{{"http://localhost:3000", false}, {"https://auth.example.com", true}} {
		site := testSite(t, tt.host)
		rec := httptest.NewRecorder()
		CSRF(site, nil, nil, nil)(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		cs := rec.Result().Cookies()
		if len(cs) != 1 {
			t.Fatalf("%s: cookies %v", tt.host, cs)
		}
		c := cs[0]
		if c.Name != CSRFCookie || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != tt.secure || c.Path != "/" || c.Domain != "" {
			t.Errorf("%s: cookie %+v", tt.host, c)
		}
	}
}

func TestCSRF_KeepsExistingCookie(t *testing.T) {
	h := csrfServer(t)
	c, _ := pageToken(t, h)
	req := httptest.NewRequest("GET", "http://localhost:3000/", nil)
	req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if len(rec.Result().Cookies()) != 0 {
		t.Errorf("a valid cookie was replaced: %v", rec.Result().Cookies())
	}
	if rec.Body.String() != c.Value {
		t.Errorf("token %q, want the cookie's %q", rec.Body.String(), c.Value)
	}
}

func TestCSRF_ExemptPathGetsNoCookie(t *testing.T) {
	rec := httptest.NewRecorder()
	csrfServer(t).ServeHTTP(rec, httptest.NewRequest("GET", "http://localhost:3000/api/verify", nil))
	if len(rec.Result().Cookies()) != 0 {
		t.Errorf("exempt path set %v", rec.Result().Cookies())
	}
}

func TestOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"http://localhost:3000":         "http://localhost:3000",
		"https://Auth.Example.com:443/": "https://auth.example.com",
		"http://x.example:80":           "http://x.example",
	} {
		u, _ := url.Parse(in)
		if got := Origin(u); got != want {
			t.Errorf("Origin(%s) = %s, want %s", in, got, want)
		}
	}
}

// A refused form tells the person what went wrong and what to do, and
// leaves one info line in the log with the reason, the path and the
// Origin, never a token.
func TestCSRF_RefusalNamesCauseAndFixAndLogsIt(t *testing.T) {
	const tok = "Tok3nTok3nTok3nTok3nTok3nTok3nTok3nTok3nTok"
	const other = "Oth3rOth3rOth3rOth3rOth3rOth3rOth3rOth3rOth"
	tests := []struct {
		name     string
		host     string
		forceSSL bool
		cookie   string
		token    string
		hdr      map[string]string
		reason   string
		message  []string
	}{
		{
			name: "opened at another address", host: "http://localhost:3000", cookie: tok, token: tok,
			hdr:    map[string]string{"Origin": "http://192.0.2.2:3000"},
			reason: "origin_mismatch",
			message: []string{"this page was opened at http://192.0.2.2:3000, but clinch's address is http://localhost:3000 (clinch_host)",
				"set clinch_host"},
		},
		{
			name: "http page, https CLINCH_HOST", host: "https://auth.example.com", cookie: tok, token: tok,
			hdr:     map[string]string{"Origin": "http://auth.example.com"},
			reason:  "origin_mismatch",
			message: []string{"opened at http://auth.example.com", "address is https://auth.example.com"},
		},
		{
			name: "Origin null", host: "http://localhost:3000", cookie: tok, token: tok,
			hdr: map[string]string{"Origin": "null"}, reason: "origin_null",
			message: []string{`origin: null`, "open clinch at http://localhost:3000"},
		},
		{
			name: "cross-site fetch", host: "http://localhost:3000", cookie: tok, token: tok,
			hdr: map[string]string{"Sec-Fetch-Site": "cross-site"}, reason: "cross_site",
			message: []string{"sent from another site", "cross-site"},
		},
		{
			name: "no cookie", host: "http://localhost:3000", token: tok,
			hdr: map[string]string{"Origin": "http://localhost:3000"}, reason: "cookie_missing",
			message: []string{"security cookie did not come back", "accept cookies from localhost"},
		},
		{
			name: "Secure cookie on http", host: "http://auth.example.com", forceSSL: true, token: tok,
			hdr: map[string]string{"Origin": "http://auth.example.com"}, reason: "cookie_missing",
			message: []string{"marks its cookies secure", "plain-http address", "force_ssl"},
		},
		{
			// Browsers keep Secure cookies on http://localhost: not the cause.
			name: "no cookie, FORCE_SSL on localhost", host: "http://localhost:3000", forceSSL: true, token: tok,
			hdr: map[string]string{"Origin": "http://localhost:3000"}, reason: "cookie_missing",
			message: []string{"accept cookies from localhost"},
		},
		{
			name: "Secure cookie on http, no Origin", host: "http://192.0.2.2:3000", forceSSL: true, token: tok,
			reason: "cookie_missing", message: []string{"marks its cookies secure"},
		},
		{
			name: "no token", host: "http://localhost:3000", cookie: tok, reason: "token_missing",
			message: []string{"no security token", "reload"},
		},
		{
			name: "stale token", host: "http://localhost:3000", cookie: tok, token: other, reason: "token_mismatch",
			message: []string{"does not match", "reload the page"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(tt.host)
			if err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			var msg string
			fail := func(w http.ResponseWriter, _ *http.Request, status int, title, message string) {
				msg = message
				w.WriteHeader(status)
			}
			h := CSRF(NewSite(u, "", tt.forceSSL), nil, fail, slog.New(slog.NewTextHandler(&logs, nil)))(
				http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Error("the refused form reached the handler") }))
			form := url.Values{}
			if tt.token != "" {
				form.Set(CSRFField, tt.token)
			}
			req := httptest.NewRequest("POST", tt.host+"/signin", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tt.cookie != "" {
				req.AddCookie(&http.Cookie{Name: CSRFCookie, Value: tt.cookie})
			}
			for k, v := range tt.hdr {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusForbidden {
				t.Fatalf("status %d, want 403", rec.Code)
			}
			for _, want := range tt.message {
				if !strings.Contains(strings.ToLower(msg), want) {
					t.Errorf("message does not say %q:\n%s", want, msg)
				}
			}
			line := logs.String()
			if strings.Count(line, "\n") != 1 || !strings.Contains(line, "level=INFO") ||
				!strings.Contains(line, "reason="+tt.reason) || !strings.Contains(line, "path=/signin") {
				t.Errorf("log %q, want one info line with reason=%s and the path", line, tt.reason)
			}
			if o := tt.hdr["Origin"]; o != "" && !strings.Contains(line, "origin="+o) {
				t.Errorf("log %q does not carry the Origin %s", line, o)
			}
			if strings.Contains(line, tok) || strings.Contains(line, other) {
				t.Errorf("log carries a token value: %q", line)
			}
		})
	}
}

// countingBody counts what a handler read of a request body.
type countingBody struct {
	r io.Reader
	n int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingBody) Close() error { return nil }

// Three concurrent multipart POSTs to an unknown path took RSS from 19 to
// 204 MiB: the CSRF check parsed up to 32 MiB of each before deciding.
func TestCSRF_UnboundedBodiesAreNotRead(t *testing.T) {
	host, _ := url.Parse("http://localhost:3000")
	site := NewSite(host, "", false)
	h := CSRF(site, nil, nil, nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the handler ran for a refused request")
	}))
	tok := strings.Repeat("a", 43)
	big := strings.Repeat("x", 8<<20)
	tests := []struct {
		name     string
		ctype    string
		status   int
		maxBytes int64
	}{
		{"multipart is not parsed at all", "multipart/form-data; boundary=zz", http.StatusUnsupportedMediaType, 0},
		{"an urlencoded body is read up to the cap only", "application/x-www-form-urlencoded", http.StatusRequestEntityTooLarge, MaxFormBytes + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := &countingBody{r: strings.NewReader("csrf_token=" + tok + "&pad=" + big)}
			r := httptest.NewRequest("POST", "/nowhere", nil)
			r.Body = body
			r.Header.Set("Content-Type", tt.ctype)
			r.Header.Set("Origin", "http://localhost:3000")
			r.AddCookie(&http.Cookie{Name: CSRFCookie, Value: tok})
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Errorf("status %d, want %d", w.Code, tt.status)
			}
			if body.n > tt.maxBytes {
				t.Errorf("read %d bytes of the body, want at most %d", body.n, tt.maxBytes)
			}
		})
	}
}

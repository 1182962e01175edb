package harness

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/net/publicsuffix"
)

// NewClient returns a client that keeps cookies like a browser, does not
// follow redirects (tests look at each 303) and gives up after 10 s.
func NewClient() *http.Client {
	jar, err := cookiejar.New(&cookiejar.Options{PublicSuffixList: publicsuffix.List})
	if err != nil {
		panic(err) // cookiejar.New never fails with these options
	}
	return &http.Client{
		Jar:     jar,
		Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Get fetches u and returns the response (body already read and closed)
// and the body.
func Get(t testing.TB, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return Do(t, c, req)
}

// Post submits vals as a browser form to u, with the Origin header a
// browser sends (u's scheme and host). The caller includes csrf_token.
func Post(t testing.TB, c *http.Client, u string, vals url.Values) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(vals.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", req.URL.Scheme+"://"+req.URL.Host)
	return Do(t, c, req)
}

// Do sends req and returns the response with its body read and closed.
func Do(t testing.TB, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return resp, string(b)
}

// Form fetches pageURL (expecting 200) and returns the value of its hidden
// csrf_token input. The fetch also sets the CSRF cookie in c's jar.
func Form(t testing.TB, c *http.Client, pageURL string) string {
	t.Helper()
	resp, body := Get(t, c, pageURL)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s, want 200\n%s", pageURL, resp.Status, body)
	}
	tok, ok := CSRFToken(body)
	if !ok {
		t.Fatalf("GET %s: no csrf_token input in the page\n%s", pageURL, body)
	}
	return tok
}

// CSRFToken finds the value of the first <input name="csrf_token"> in an
// HTML page.
func CSRFToken(page string) (string, bool) {
	z := html.NewTokenizer(strings.NewReader(page))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return "", false
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			if tok.Data != "input" {
				continue
			}
			var name, value string
			for _, a := range tok.Attr {
				switch a.Key {
				case "name":
					name = a.Val
				case "value":
					value = a.Val
				}
			}
			if name == "csrf_token" && value != "" {
				return value, true
			}
		}
	}
}

// Text returns the visible text of an HTML page, whitespace collapsed, for
// assertions on what a person reads.
func Text(page string) string {
	z := html.NewTokenizer(strings.NewReader(page))
	var b strings.Builder
	skip := 0
	for {
		switch z.Next() {
		case html.ErrorToken:
			return strings.Join(strings.Fields(b.String()), " ")
		case html.StartTagToken:
			if n, _ := z.TagName(); string(n) == "script" || string(n) == "style" {
				skip++
			}
		case html.EndTagToken:
			if n, _ := z.TagName(); (string(n) == "script" || string(n) == "style") && skip > 0 {
				skip--
			}
		case html.TextToken:
			if skip == 0 {
				b.Write(z.Text())
				b.WriteByte(' ')
			}
		}
	}
}

// SignUp completes the first-run wizard at /signup for email with
// password (display name: the email's local part) and fails the test unless
// it answers 303. c then holds the new session.
func SignUp(t testing.TB, c *http.Client, s *Server, email, password string) *http.Response {
	t.Helper()
	tok := Form(t, c, s.URL+"/signup")
	name, _, _ := strings.Cut(email, "@")
	resp, body := Post(t, c, s.URL+"/signup", url.Values{
		"csrf_token":       {tok},
		"email":            {email},
		"name":             {name},
		"password":         {password},
		"password_confirm": {password},
	})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /signup: %s, want 303\n%s", resp.Status, Text(body))
	}
	return resp
}

// SignIn signs in at /signin with login (email or username), password and
// return URL rd ("" for none), and fails the test unless it answers 303.
// It returns the response, whose Location is where Clinch sends the user.
func SignIn(t testing.TB, c *http.Client, s *Server, login, password, rd string) *http.Response {
	t.Helper()
	resp, body := TrySignIn(t, c, s, login, password, rd)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /signin as %s: %s, want 303\n%s", login, resp.Status, Text(body))
	}
	return resp
}

// SignInPending signs in on the page an OIDC authorization sent the
// browser to (/signin?authz=ID), carrying that id, and fails the test
// unless it answers 303. Its Location resumes the authorization.
func SignInPending(t testing.TB, c *http.Client, s *Server, login, password, signinURL string) *http.Response {
	t.Helper()
	u, err := url.Parse(signinURL)
	if err != nil {
		t.Fatal(err)
	}
	page := s.URL + u.RequestURI()
	tok := Form(t, c, page)
	resp, body := Post(t, c, s.URL+"/signin", url.Values{
		"csrf_token": {tok}, "login": {login}, "password": {password}, "authz": {u.Query().Get("authz")},
	})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /signin as %s for a pending authorization: %s, want 303\n%s", login, resp.Status, Text(body))
	}
	return resp
}

// TrySignIn posts the sign-in form and returns whatever Clinch answered.
func TrySignIn(t testing.TB, c *http.Client, s *Server, login, password, rd string) (*http.Response, string) {
	t.Helper()
	page := s.URL + "/signin"
	if rd != "" {
		page += "?rd=" + url.QueryEscape(rd)
	}
	tok := Form(t, c, page)
	vals := url.Values{"csrf_token": {tok}, "login": {login}, "password": {password}}
	if rd != "" {
		vals.Set("rd", rd)
	}
	return Post(t, c, s.URL+"/signin", vals)
}

// SignOut posts the sign-out form found on the home page and fails the
// test unless it answers 303.
func SignOut(t testing.TB, c *http.Client, s *Server) *http.Response {
	t.Helper()
	tok := Form(t, c, s.URL+"/")
	resp, body := Post(t, c, s.URL+"/signout", url.Values{"csrf_token": {tok}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /signout: %s, want 303\n%s", resp.Status, Text(body))
	}
	return resp
}

// Cookie returns the cookie named name that c would send to u, or nil.
func Cookie(c *http.Client, u, name string) *http.Cookie {
	pu, err := url.Parse(u)
	if err != nil {
		return nil
	}
	for _, ck := range c.Jar.Cookies(pu) {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

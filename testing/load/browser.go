package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// browser signs in and out through Clinch's forms, as a person would:
// cookie jar, CSRF token from the page, Origin on the POST.
type browser struct {
	base string
	c    *http.Client
	// xff, when set, is sent as X-Forwarded-For (the server trusts
	// 127.0.0.1 in the soak), so sign-ins spread over many client
	// addresses and stay under the per-address limit.
	xff string
}

func newBrowser(base, xff string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{base: base, xff: xff, c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfRE = regexp.MustCompile(`name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"`)

func (b *browser) do(method, path string, form url.Values) (*http.Response, []byte, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", b.base)
	}
	if b.xff != "" {
		req.Header.Set("X-Forwarded-For", b.xff)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	page, err := io.ReadAll(resp.Body)
	return resp, page, err
}

func (b *browser) csrf(path string) (string, error) {
	_, page, err := b.do(http.MethodGet, path, nil)
	if err != nil {
		return "", err
	}
	m := csrfRE.FindSubmatch(page)
	if m == nil {
		return "", fmt.Errorf("no csrf_token on %s", path)
	}
	return string(m[1]) + string(m[2]), nil
}

// signIn signs in through the sign-in form and returns the session token.
func (b *browser) signIn(email, password string) (string, error) {
	tok, err := b.csrf("/signin")
	if err != nil {
		return "", err
	}
	resp, _, err := b.do(http.MethodPost, "/signin", url.Values{"csrf_token": {tok}, "login": {email}, "password": {password}})
	if err != nil {
		return "", err
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == "clinch_session" && ck.Value != "" {
			return ck.Value, nil
		}
	}
	return "", fmt.Errorf("sign-in answered %s without a session cookie", resp.Status)
}

// signOut presses "Sign out" on the home page.
func (b *browser) signOut() error {
	tok, err := b.csrf("/")
	if err != nil {
		return err
	}
	resp, _, err := b.do(http.MethodPost, "/signout", url.Values{"csrf_token": {tok}})
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("sign-out answered %s", resp.Status)
	}
	return nil
}

// verifyStatus asks /api/verify as Caddy would, with the session token.
func verifyStatus(base string, headers []string, token string) (int, error) {
	req, _ := http.NewRequest(http.MethodGet, base+"/api/verify", nil)
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	req.AddCookie(&http.Cookie{Name: "clinch_session", Value: token})
	resp, err := (&http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK && resp.Header.Get("Remote-User") == "" {
		return 0, errors.New("verify answered 200 without Remote-User")
	}
	return resp.StatusCode, nil
}

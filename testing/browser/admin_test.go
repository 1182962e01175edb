package browser

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/clinchsso/clinch/testing/harness"
)

// adminPages are every admin page a person can open by its address
// ({user} is a user's id), for the 403 check.
var adminPages = []string{"/admin", "/admin/users", "/admin/users/new", "/admin/users/{user}",
	"/admin/users/{user}/disable", "/admin/users/{user}/delete", "/admin/groups", "/admin/groups/family",
	"/admin/groups/family/delete", "/admin/audit", "/admin/sign-out-everyone"}

// An admin, signed out, opens /admin and is asked to sign in first; then,
// clicking through the admin pages in Chromium over HTTPS behind Caddy,
// creates a user and a group, puts the user in the group, types invalid
// claims JSON (sees the problem named, and nothing is saved), disables
// the user (whose own browser is signed out at once), reads the audit
// log, and finally signs out everyone. A person who is not an admin gets
// 403 on every admin page. Each admin page is kept as a screenshot.
func TestAdminPages(t *testing.T) {
	st := newStack(t)
	st.serve()
	st.clinch.MustCLI(t, password, "user", "create", "--email", "ada@example.com", "--username", "ada",
		"--name", "Ada Admin", "--admin", "--password-stdin")
	eveEmail := st.user(t, "eve")

	admin := st.fresh(t)
	admin.Open("/admin")
	signIn(admin, "ada", "/admin")
	admin.See("At a glance", "Needs your attention", "ada@example.com has no second factor")
	admin.Shot("admin-dashboard")

	// A user, made with a password.
	admin.ClickAndWait(`document.querySelector('nav.admin a[href="/admin/users"]')`, "/admin/users")
	admin.See("ada@example.com", eveEmail)
	admin.Shot("admin-users")
	admin.ClickAndWait(`document.querySelector("#new-user")`, "/admin/users/new")
	admin.Shot("admin-user-new")
	admin.Type("#create-email", "dana@example.com")
	admin.Type("#create-name", "Dana Doe")
	admin.Type("#create-username", "dana")
	admin.Type("#create-password", password)
	admin.ClickAndLoad(`document.querySelector("#create-submit")`)
	admin.See("The user was created.", "Dana Doe")
	danaPage := admin.Path()
	if !strings.HasPrefix(danaPage, "/admin/users/") {
		t.Fatalf("after creating, the admin is at %s", admin.URL())
	}

	// Dana signs in in her own browser.
	dana := st.fresh(t)
	dana.Open("/signin")
	signIn(dana, "dana", "/")
	dana.See("Dana Doe")
	if dana.Has(`a[href="/admin"]`) {
		t.Error("a person who is not an admin sees the Admin link")
	}

	// A group, and Dana in it.
	admin.ClickAndWait(`document.querySelector('nav.admin a[href="/admin/groups"]')`, "/admin/groups")
	admin.Type("#group-name", "family")
	admin.Type("#group-description", "The people at home")
	admin.ClickAndWait(`document.querySelector("#create-group")`, "/admin/groups/family")
	admin.See("The group was created.")
	admin.Type("#add-member", "dana")
	admin.ClickAndWait(`document.querySelector("#add-member-submit")`, "/admin/groups/family")
	admin.See("The member was added.", "dana@example.com")
	admin.Shot("admin-group")
	admin.Open("/admin/groups")
	admin.See("family", "The people at home")
	admin.Shot("admin-groups")

	// Invalid claims: the problem is named and nothing is saved.
	admin.Open(danaPage)
	admin.Type("#edit-name", "Dana D.")
	typeArea(admin, "#edit-claims", `{"team": "blue",}`)
	admin.ClickAndWait(`document.querySelector("#save-user")`, danaPage)
	admin.See("Custom claims are not valid JSON", "line 1, column 17")
	if v := admin.Value("#edit-claims"); v != `{"team": "blue",}` {
		t.Errorf("the form lost the claims typed: %q", v)
	}
	admin.Shot("admin-user-claims-error")
	admin.Open(danaPage)
	if v, n := admin.Value("#edit-claims"), admin.Value("#edit-name"); v != "" || n != "Dana Doe" {
		t.Fatalf("a refused edit saved something: claims %q, name %q", v, n)
	}
	// Fixed, it saves.
	typeArea(admin, "#edit-claims", `{"team": "blue"}`)
	admin.ClickAndWait(`document.querySelector("#save-user")`, danaPage)
	admin.See("Saved.")
	if v := admin.Value("#edit-claims"); !strings.Contains(v, `"team": "blue"`) {
		t.Errorf("saved claims show as %q", v)
	}
	admin.See("family") // the group checkbox is there
	if !admin.Has(`input[name="group"][value="family"]:checked`) {
		t.Error("Dana's page does not show her in family")
	}
	admin.Shot("admin-user")

	// Disabling asks first, then signs Dana out at once.
	admin.ClickAndWait(`document.querySelector("#disable-user")`, danaPage+"/disable")
	admin.See("Disable dana@example.com?", "signed out")
	admin.Shot("admin-confirm-disable")
	admin.ClickAndWait(`document.querySelector("#confirm")`, danaPage)
	admin.See("The user was disabled and signed out everywhere.", "Disabled")
	signedOut(dana, "after the admin disabled Dana")

	// The audit log shows what the admin did, filtered by user.
	admin.ClickAndWait(`document.querySelector('nav.admin a[href="/admin/audit"]')`, "/admin/audit")
	// (The kind filter's menu names every kind too: look in the table.)
	events := admin.TextOf("#events")
	for _, k := range []string{"user.created", "group.created", "signin", "user.updated"} {
		if !strings.Contains(events, k) {
			t.Errorf("the audit log lacks %s:\n%s", k, events)
		}
	}
	admin.Type("#f-user", "dana")
	admin.ClickAndWait(`document.querySelector("#filter")`, "/admin/audit")
	events = admin.TextOf("#events")
	for _, s := range []string{"user.updated", "group.updated", "ada@example.com", "dana@example.com"} {
		if !strings.Contains(events, s) {
			t.Errorf("Dana's events lack %s:\n%s", s, events)
		}
	}
	if strings.Contains(events, "group.created") {
		t.Error("the user filter let through an event not about Dana")
	}
	if href := admin.Attr("#export", "href"); !strings.HasPrefix(href, "/admin/audit/export?") || !strings.Contains(href, "user=dana") {
		t.Errorf("export link %q does not keep the filter", href)
	}
	admin.Shot("admin-audit")

	// Eve is signed in but no admin: every admin page is 403.
	eve := st.fresh(t)
	eve.Open("/signin")
	signIn(eve, "eve", "/")
	for _, p := range adminPages {
		p = strings.ReplaceAll(p, "{user}", strings.TrimPrefix(danaPage, "/admin/users/"))
		eve.Open(p)
		if eve.Path() != p {
			t.Errorf("eve opening %s ended at %s", p, eve.URL())
		}
		eve.See("Admins only")
	}
	eve.Shot("admin-forbidden")

	// Sign out everyone: asked first; then Eve and the admin are out.
	admin.Open("/admin")
	admin.ClickAndWait(`document.querySelector("#sign-out-everyone")`, "/admin/sign-out-everyone")
	admin.See("Sign out everyone?")
	admin.Shot("admin-confirm-sign-out-everyone")
	admin.ClickAndWait(harness.Button("Sign out everyone"), "/signin")
	signedOut(eve, "after sign out everyone")
	signedOut(admin, "the admin after sign out everyone")
}

// typeArea replaces a textarea's text by typing: harness.Tab.Type clears
// first with chromedp.Clear, which fails on an empty textarea (it has no
// text node to clear), so an empty one is only typed into.
func typeArea(tab harness.Tab, sel, text string) {
	tab.T.Helper()
	if tab.Value(sel) != "" {
		tab.Type(sel, text)
		return
	}
	ctx, cancel := context.WithTimeout(tab.Ctx, harness.StepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(sel), text)); err != nil {
		tab.T.Fatalf("browser: type into %s: %v", sel, err)
	}
}

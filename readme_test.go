package main

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The README shows the proxy files of docs/proxy inline, under a link to
// each, and says they are the very files testing/forward runs. A copy that
// drifts tells people to run a configuration nobody tested (the nginx copy
// once lacked the X-Forwarded-For line that network rules need).
func TestREADME_ProxyFilesAreTheDocsFiles(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	// A link to the file, then its copy in the next fenced block.
	re := regexp.MustCompile("(?s)\\]\\((docs/proxy/[^)]+)\\).*?\n```[a-z]*\n(.*?)\n```\n")
	seen := map[string]bool{}
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		path, copied := m[1], m[2]+"\n"
		seen[path] = true
		want, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("README links %s: %v", path, err)
			continue
		}
		if copied != string(want) {
			t.Errorf("README's copy of %s differs from the file:\n%s", path, firstDifference(copied, string(want)))
		}
	}
	entries, err := os.ReadDir("docs/proxy")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if p := "docs/proxy/" + e.Name(); !seen[p] {
			t.Errorf("%s has no copy in the README", p)
		}
	}
}

// firstDifference names the first line where README's copy and the file part.
func firstDifference(copied, file string) string {
	a, b := strings.Split(copied, "\n"), strings.Split(file, "\n")
	for i := range max(len(a), len(b)) {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return "line " + strconv.Itoa(i+1) + ":\n  README: " + x + "\n  file:   " + y
		}
	}
	return "(trailing newline)"
}

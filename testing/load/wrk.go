package main

import (
	"bufio"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// bench drives wrk pinned to CPU 1.
type bench struct {
	wrk   string
	pin   []string
	conns int
	tmp   string
}

// traffic is what each wrk request carries: fixed headers, and either one
// session cookie or a sequence of them read from a file (one request each,
// in order, starting where the previous run of this traffic stopped).
type traffic struct {
	headers []string
	cookie  string // one token for every request
	seqPath string // or a file of tokens, one per line
	offset  int
	seqLen  int
}

// result is one wrk run.
type result struct {
	rps      float64
	p50, p99 time.Duration
	requests int
	non2xx   int
	sockErrs int
}

func (b *bench) run(url string, d time.Duration, tr *traffic) (result, error) {
	a := append(append([]string{}, b.pin...), b.wrk, "-t1", "-c"+strconv.Itoa(b.conns), "-d"+strconv.Itoa(max(1, int(d.Round(time.Second).Seconds())))+"s", "--latency", "--timeout", "5s")
	if tr != nil && tr.seqPath != "" {
		script, err := b.script(tr)
		if err != nil {
			return result{}, err
		}
		a = append(a, "-s", script)
	} else if tr != nil {
		for _, h := range tr.headers {
			a = append(a, "-H", h)
		}
		if tr.cookie != "" {
			a = append(a, "-H", "Cookie: clinch_session="+tr.cookie)
		}
	}
	a = append(a, url)
	out, err := exec.Command(a[0], a[1:]...).CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	r, err := parseWrk(string(out))
	if err == nil && tr != nil && tr.seqLen > 0 {
		tr.offset = (tr.offset + r.requests) % tr.seqLen
	}
	return r, err
}

// script writes the Lua that sends tr's cookies in sequence. Every request
// is built from a fixed head and the token, so wrk spends no more per
// request on the empty handler than on verify.
func (b *bench) script(tr *traffic) (string, error) {
	var head strings.Builder
	head.WriteString(`GET /api/verify HTTP/1.1\r\nHost: 127.0.0.1\r\n`)
	for _, h := range tr.headers {
		head.WriteString(strings.ReplaceAll(h, `"`, `\"`) + `\r\n`)
	}
	head.WriteString(`Cookie: clinch_session=`)
	lua := fmt.Sprintf(`local toks = {}
for line in io.lines(%q) do toks[#toks + 1] = line end
local n = #toks
local i = %d %% n
local head = "%s"
request = function()
  i = i + 1
  if i > n then i = 1 end
  return head .. toks[i] .. "\r\n\r\n"
end
`, tr.seqPath, tr.offset, head.String())
	p := b.tmp + "/requests.lua"
	return p, os.WriteFile(p, []byte(lua), 0o600)
}

// writeSequence writes n draws from the tokens, uniformly or by Zipf(1.1)
// over a random ranking of them (so the popular sessions are not the ones
// written first or last), one per line.
func writeSequence(path string, tokens []string, access string, n int, rng *rand.Rand) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	var next func() int
	switch access {
	case "uniform":
		next = func() int { return rng.IntN(len(tokens)) }
	case "zipf":
		rank := rng.Perm(len(tokens))
		z := newZipf(rng, 1.1, len(tokens))
		next = func() int { return rank[z.next()] }
	default:
		return fmt.Errorf("-access %q: want uniform or zipf", access)
	}
	for range n {
		w.WriteString(tokens[next()])
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

// zipf draws ranks 0..n-1 with P(k) proportional to 1/(k+1)^s, by binary
// search in the cumulative weights (math/rand/v2 has no Zipf).
type zipf struct {
	rng *rand.Rand
	cum []float64
}

func newZipf(rng *rand.Rand, s float64, n int) *zipf {
	z := &zipf{rng: rng, cum: make([]float64, n)}
	sum := 0.0
	for k := range n {
		sum += 1 / math.Pow(float64(k+1), s)
		z.cum[k] = sum
	}
	for k := range z.cum {
		z.cum[k] /= sum
	}
	return z
}

func (z *zipf) next() int {
	i, _ := slices.BinarySearch(z.cum, z.rng.Float64())
	return min(i, len(z.cum)-1)
}

func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out, sc.Err()
}

var (
	rpsRE    = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	reqRE    = regexp.MustCompile(`(\d+) requests in`)
	non2xxRE = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	sockRE   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	pctlRE   = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
)

func parseWrk(out string) (result, error) {
	var r result
	m := rpsRE.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("no Requests/sec in wrk output:\n%s", out)
	}
	r.rps, _ = strconv.ParseFloat(m[1], 64)
	if m := reqRE.FindStringSubmatch(out); m != nil {
		r.requests, _ = strconv.Atoi(m[1])
	}
	if m := non2xxRE.FindStringSubmatch(out); m != nil {
		r.non2xx, _ = strconv.Atoi(m[1])
	}
	if m := sockRE.FindStringSubmatch(out); m != nil {
		for _, v := range m[1:] {
			n, _ := strconv.Atoi(v)
			r.sockErrs += n
		}
	}
	for _, m := range pctlRE.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[m[3]]
		d := time.Duration(v * float64(unit))
		if m[1] == "50" {
			r.p50 = d
		} else {
			r.p99 = d
		}
	}
	if r.p50 == 0 || r.p99 == 0 {
		return r, fmt.Errorf("no latency distribution in wrk output:\n%s", out)
	}
	return r, nil
}

package forward

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// verifyMetrics are /api/verify's collectors, with one counter per outcome
// bound up front so a request does no label lookup.
type verifyMetrics struct {
	total    [nOutcomes]prometheus.Counter
	duration prometheus.Histogram
}

func newVerifyMetrics(reg prometheus.Registerer, sessions *sessionTable) (*verifyMetrics, error) {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "clinch_verify_total",
		Help: "ForwardAuth /api/verify answers by outcome.",
	}, []string{"outcome"})
	hist := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "clinch_verify_duration_seconds",
		Help:    "Time to answer a ForwardAuth /api/verify request.",
		Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .1},
	})
	if err := reg.Register(vec); err != nil {
		return nil, fmt.Errorf("forward: register metrics: %w", err)
	}
	if err := reg.Register(hist); err != nil {
		return nil, fmt.Errorf("forward: register metrics: %w", err)
	}
	cached := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "clinch_verify_sessions_in_memory",
		Help: "Sessions /api/verify holds in memory (CLINCH_CACHE_MB bounds them; after a start they are loaded from the store in the background).",
	}, func() float64 { return float64(sessions.count()) })
	if err := reg.Register(cached); err != nil {
		return nil, fmt.Errorf("forward: register metrics: %w", err)
	}
	m := &verifyMetrics{duration: hist}
	for o := range nOutcomes {
		m.total[o] = vec.WithLabelValues(outcomeNames[o])
	}
	return m, nil
}

func (m *verifyMetrics) observe(o outcome, d time.Duration) {
	m.total[o].Inc()
	m.duration.Observe(d.Seconds())
}

package oidc

import "github.com/prometheus/client_golang/prometheus"

type providerMetrics struct {
	codes           prometheus.Counter
	tokens          *prometheus.CounterVec
	tokenErrors     *prometheus.CounterVec
	authorizeErrors *prometheus.CounterVec
	backchannel     *prometheus.CounterVec
}

// newMetrics builds the collectors and registers them on reg when it is
// not nil.
func newMetrics(reg prometheus.Registerer) *providerMetrics {
	m := &providerMetrics{
		codes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "clinch_oidc_codes_issued_total",
			Help: "Authorization codes issued.",
		}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clinch_oidc_tokens_issued_total",
			Help: "Token responses by grant type.",
		}, []string{"grant_type"}),
		tokenErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clinch_oidc_token_errors_total",
			Help: "Token endpoint errors by OAuth error code.",
		}, []string{"error"}),
		authorizeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clinch_oidc_authorize_errors_total",
			Help: "Authorization errors sent to clients, by OAuth error code.",
		}, []string{"error"}),
		backchannel: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clinch_oidc_backchannel_logouts_total",
			Help: "Back-channel logout deliveries by result (ok, refused, failed after retries).",
		}, []string{"result"}),
	}
	if reg != nil {
		reg.MustRegister(m.codes, m.tokens, m.tokenErrors, m.authorizeErrors, m.backchannel)
	}
	return m
}

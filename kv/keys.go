package kv

// Every key prefix in the store, and the schema version, live in this one file
// so that a reader can see the whole key space at a glance and a migration can
// be written against it.
//
// Keys are "<prefix><id>". Index keys are "<prefix><indexed value>" and hold
// the id of the record they point at.

// SchemaVersion is the version of the key layout and record encoding. Bump it
// together with a Migration in migrations.go.
const SchemaVersion = 3

// Prefix is a key prefix. It always ends in '/'.
type Prefix string

const (
	PrefixMeta Prefix = "meta/" // meta/schema, meta/...

	PrefixUser            Prefix = "user/" // user id → auth.User
	PrefixUserByEmail     Prefix = "idx/user/email/"
	PrefixUserByUsername  Prefix = "idx/user/username/"
	PrefixGroup           Prefix = "group/" // group id → auth.Group
	PrefixGroupByName     Prefix = "idx/group/name/"
	PrefixGroupByMember   Prefix = "idx/group/member/" // user id/group id → nothing (since schema 3)
	PrefixSession         Prefix = "session/"          // HMAC(token) → auth.Session, TTL
	PrefixSessionByUser   Prefix = "idx/session/user/" // user id/HMAC → nothing, TTL
	PrefixRateLimit       Prefix = "ratelimit/"        // bucket → counter, TTL
	PrefixApp             Prefix = "app/"              // app id → auth.App (allowlist by group id since schema 2)
	PrefixAppBySlug       Prefix = "idx/app/slug/"
	PrefixAppByClientID   Prefix = "idx/app/client/"
	PrefixAPIKey          Prefix = "apikey/"     // HMAC(key) → auth.APIKey (TTL when it expires)
	PrefixFAToken         Prefix = "fatoken/"    // HMAC(token) → forward-auth one-time token, TTL
	PrefixOAuthCode       Prefix = "oauth/code/" // HMAC(code) → authorization code, TTL
	PrefixOAuthAccess     Prefix = "oauth/access/"
	PrefixOAuthRefresh    Prefix = "oauth/refresh/"
	PrefixOAuthGrant      Prefix = "oauth/grant/"      // grant (code family) id → grant record, TTL
	PrefixOAuthGrantToken Prefix = "idx/oauth/grant/"  // grant id/a|r HMAC(token) → nothing, TTL
	PrefixOAuthConsent    Prefix = "oauth/consent/"    // user id/app id → consent
	PrefixOAuthSubject    Prefix = "oauth/sub/"        // user id/app id → pairwise sub
	PrefixOAuthSubjectRev Prefix = "idx/oauth/sub/"    // app id/sub → user id
	PrefixSigningKey      Prefix = "oauth/key/"        // key id → encrypted signing key
	PrefixRetiredKey      Prefix = "oauth/retiredkey/" // key id → tombstone of a retired signing key, permanent
	PrefixUserAppClaims   Prefix = "claims/userapp/"
	PrefixOAuthPending    Prefix = "oauth/pending/"     // id → pending authorization request, TTL
	PrefixOAuthSessionApp Prefix = "idx/oauth/sess/"    // session id/app id → sub, TTL of the session
	PrefixPasskey         Prefix = "passkey/"           // passkey id → auth.Passkey
	PrefixPasskeyByCred   Prefix = "idx/passkey/cred/"  // base64url credential id → passkey id
	PrefixPasskeyByUser   Prefix = "idx/passkey/user/"  // user id/passkey id → nothing
	PrefixPasskeyCeremony Prefix = "webauthn/ceremony/" // HMAC(ceremony token) → pending WebAuthn ceremony, TTL
	PrefixSignIn          Prefix = "signin/"            // HMAC(cookie token) → auth.PendingSignIn, TTL
	PrefixSecondFactors   Prefix = "mfa/"               // user id → the user's TOTP (encrypted) and backup codes (hashed)
	PrefixTOTPEnrolment   Prefix = "totpenrol/"         // session id → TOTP secret offered on the security page (encrypted), TTL
	PrefixPasswordReset   Prefix = "reset/"             // HMAC(reset token) → password-reset link, TTL
	PrefixInvitation      Prefix = "invite/"            // HMAC(invitation token) → invitation link, TTL
	PrefixMagicLink       Prefix = "magic/"             // HMAC(sign-in link token) → sign-in link, TTL
	PrefixMailOutbox      Prefix = "mail/outbox/"       // queueing time-random → queued message (sealed), until sent or given up
	PrefixEmailChange     Prefix = "emailchange/"       // HMAC(confirmation token) → pending email change, TTL
	PrefixAudit           Prefix = "audit/"             // event id (time-ordered) → audit.Event, TTL of the retention
	PrefixAuditByUser     Prefix = "idx/audit/user/"    // user id/event id → nothing, TTL of the retention
	PrefixAuditByKind     Prefix = "idx/audit/kind/"    // kind/event id → nothing, TTL of the retention
)

// The admin API's tokens, in a block of their own.
const (
	PrefixAdminToken       Prefix = "admintoken/"          // HMAC(admin API token) → auth.AdminToken (TTL when it expires)
	PrefixAdminTokenByName Prefix = "idx/admintoken/name/" // token name → HMAC
)

// Key joins a prefix and an id into a key.
func (p Prefix) Key(id string) []byte {
	b := make([]byte, 0, len(p)+len(id))
	b = append(b, p...)
	return append(b, id...)
}

package control

// keyCommands are the `clinch keys ...` and claims commands (OIDC).
func keyCommands() []Command { return nil }

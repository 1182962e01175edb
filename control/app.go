package control

// appCommands are the `clinch app ...` commands (ForwardAuth and OIDC apps).
func appCommands() []Command { return nil }

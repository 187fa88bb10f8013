package views

import (
	"net/url"

	"github.com/switchyard/switchyard/engine"
)

// AuditProps is the audit trail page, filtered by action and target.
type AuditProps struct {
	Page           PageProps
	Entries        []engine.AuditEntry
	NextCursor     string
	Action, Target string
}

// auditActions are the filter's choices: groups, then single actions.
var auditActions = []struct{ Value, Label string }{
	{"", "Everything"}, {"flow", "Flows (all)"}, {engine.AuditFlowSave, "Flow saved"}, {engine.AuditFlowCreate, "Flow created"},
	{engine.AuditFlowEnable, "Flow turned on"}, {engine.AuditFlowDisable, "Flow turned off"}, {engine.AuditFlowPause, "Flow paused"},
	{engine.AuditFlowResume, "Flow resumed"}, {engine.AuditFlowRestore, "Version restored"}, {engine.AuditFlowDelete, "Flow deleted"},
	{"connection", "Connections"}, {"token", "API tokens"}, {engine.AuditRunsBulk, "Bulk retry or replay"}, {"login", "Sign-ins (all)"},
	{engine.AuditLoginFailed, "Failed sign-ins"},
}

// actorWords says who acted: a user, a token or the command line.
func actorWords(a engine.Actor) string {
	switch {
	case a.Name == "":
		return "—"
	case a.Kind == "token":
		return a.Name + " (API token)"
	case a.Kind == "cli":
		return a.Name + " (command line)"
	}
	return a.Name
}

func auditNext(p AuditProps) string {
	q := url.Values{"cursor": {p.NextCursor}}
	if p.Action != "" {
		q.Set("action", p.Action)
	}
	if p.Target != "" {
		q.Set("target", p.Target)
	}
	return "/settings/audit?" + q.Encode()
}

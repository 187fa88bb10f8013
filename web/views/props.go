// Package views holds the templ components of the web UI. Every page
// component takes a Props struct; htmx swaps fragments rendered by the same
// components, so a page and its fragments never drift apart.
package views

import (
	"time"

	"github.com/switchyard/switchyard/auth"
	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
)

// PageProps is what every full page needs: its title, the signed-in user
// and the CSRF token forms carry.
type PageProps struct {
	Title string
	// User is empty on the setup and login pages.
	User string
	// CSRF is the session's token (or the pre-session token on the setup
	// and login pages); forms send it as _csrf, htmx as X-CSRF-Token.
	CSRF string
	// Active names the navigation entry of the page: flows, runs,
	// connections or tokens.
	Active string
	// AssetVersion busts caches of /static/ files when they change.
	AssetVersion string
	// Flash is a one-line notice shown above the page content.
	Flash string
	// Attention counts the failed runs nothing resolved yet, for the
	// navigation; AttentionMore says there are more than Attention.
	Attention     int
	AttentionMore bool
}

// SetupProps is the first-run page that creates the owner.
type SetupProps struct {
	Page  PageProps
	Name  string
	Error string
}

// LoginProps is the login page.
type LoginProps struct {
	Page  PageProps
	Name  string
	Next  string
	Error string
}

// MessageProps is a page with one message (errors, not found).
type MessageProps struct {
	Page    PageProps
	Heading string
	Message string
	Back    string
	// BackLabel names the Back link ("See all flows"); default "Back".
	BackLabel string
}

// FlowRow is one line of the flows list.
type FlowRow struct {
	ID, Name, Trigger string
	Enabled           bool
	// Paused is set while the flow holds its runs; Held counts them.
	Paused bool
	Held   int
	// WebhookURL is the full URL of a webhook trigger.
	WebhookURL string
	// LastStatus and LastRunID describe the latest run (empty: none).
	LastStatus, LastRunID string
	LastRunAt             time.Time
	// Runs24h counts runs in the last 24 hours; RunsCapped says the count
	// stopped at its cap.
	Runs24h    int
	RunsCapped bool
	// Refused24h counts requests refused in the last 24 hours (capped).
	Refused24h    int
	RefusedCapped bool
	Version       int64
	CSRF          string
	// HistoryBytes is what the flow's runs take and HistoryShare its part
	// of the whole run history (0 to 1); HasHistory is false when the
	// store cannot tell.
	HistoryBytes int64
	HistoryShare float64
	HasHistory   bool
}

// FlowsProps is the flows list.
type FlowsProps struct {
	Page PageProps
	Rows []FlowRow
	// History sums up the run history under the table ("" for none).
	History string
}

// DeleteFlowProps is the confirmation step before a flow is deleted.
type DeleteFlowProps struct {
	Page PageProps
	ID   string
	Name string
}

// PaletteGroup is one connector category of the add-step palette.
type PaletteGroup struct {
	Category string
	Specs    []connectors.Spec
}

// Ref is a reference the builder offers to insert, such as
// trigger.body.email.
type Ref struct {
	Path    string
	Preview string
}

// Function is an expression function the builder offers to insert.
type Function struct {
	// Call is what is inserted; with Arg the cursor lands between its
	// parentheses, where the argument goes.
	Call string
	Arg  bool
	Help string
}

// Functions are the functions of the expression language that Switchyard
// adds or that flows need most (docs/flows.md).
var Functions = []Function{
	{Call: "escapeHTML()", Arg: true, Help: "the argument escaped for HTML, such as an email's html body"},
	{Call: "escapeQuery()", Arg: true, Help: "the argument escaped for a URL query value"},
	{Call: "now()", Help: "the current time"},
}

// TestResult is the outcome of a test run in the builder.
type TestResult struct {
	Run   *engine.Run
	Error string
}

// BuilderProps is the flow builder: the flow being edited (possibly
// unsaved, rebuilt from the posted form), the problems found with it, and
// what the form needs to render every step from its connector's spec.
type BuilderProps struct {
	Page PageProps
	// Action is the URL the builder form posts to.
	Action string
	// New is true until the flow was saved once.
	New  bool
	Flow *flows.Flow
	// Tab is "form" or "json".
	Tab      string
	JSONText string
	// Errors maps a form field name (steps.0.with.url) to its problems;
	// Problems lists every problem for the summary, Unplaced those no
	// field shows.
	Errors   map[string][]string
	Problems []Problem
	Unplaced []string
	Palette  []PaletteGroup
	Specs    map[string]connectors.Spec
	// Connections are the stored connections (for connection fields).
	Connections []engine.ConnectionInfo
	// CheckURL is where expression fields send their text as the user
	// types.
	CheckURL    string
	WebhookBase string
	// Refs are paths found in the flow's latest payload, SampleNote says
	// where the sample came from.
	Refs        []Ref
	SampleNote  string
	TestPayload string
	// Sample is how the sample was got and can be changed (web/ui_sample.go).
	Sample *SampleProps
	// JSONModes maps a json field's form name to how it is edited
	// (JSONRows, JSONList, JSONRaw), as the user last chose.
	JSONModes map[string]string
	// PickedUnits maps a duration picker's form name to the unit posted
	// with it, so that a unit picked before its number is kept when the
	// builder is drawn again.
	PickedUnits map[string]string
	Test        *TestResult
	Notice      string
	// Panels show a stored flow's schedule, poll and refusals under the
	// form (full pages only; nil for a new flow).
	Panels *FlowPanelsProps
	// Conds are the conditions as the form posted them, by name, while
	// their rows are edited (condition.go); CondURL is the condition
	// builder's fragment endpoint; SampleEnv is the latest event's
	// environment the rows are tried on (nil: none yet).
	Conds     map[string]*CondState
	CondURL   string
	SampleEnv flows.Env
	// Sched is the schedule picker's state as posted (nil: read it from
	// the trigger's cron); SchedURL its preview endpoint.
	Sched        *SchedState
	SchedURL     string
	SchedPreview *SchedPreview
	// BrowserZone asks the page to fill an empty time zone with the
	// browser's (a schedule not saved yet).
	BrowserZone bool
	// Gallery is the template gallery of an empty "New flow" page.
	Gallery []TemplateCard
	// Template is the id of the template a new flow came from (kept
	// across edits), TemplateTitle its name, ToFill the connection
	// settings it left for the user.
	Template, TemplateTitle string
	ToFill                  []Problem
	// Focus is the element id of a step just added: the page scrolls to
	// it and focuses its first field.
	Focus string
	// Flows are the stored flows the flow pickers offer (flow.call,
	// on_failure); SigningSecret is a notification signing secret just
	// created, shown this once.
	Flows         []FlowChoice
	SigningSecret string
}

// TemplateCard is one ready flow of the gallery.
type TemplateCard struct {
	ID, Title, Summary string
	// Trigger says what starts it; Needs names the connections it needs.
	Trigger string
	Needs   []string
}

// Problem is one validation problem with the id of the field showing it.
type Problem struct {
	Field   string
	Message string
	// Anchor is the element id of the field, or empty.
	Anchor string
}

// CheckProps is the answer of the live expression check.
type CheckProps struct {
	Error string
	// Value is what the expression yields against the sample, shown as
	// JSON; HasValue is false when there was no sample to evaluate
	// against.
	Value    string
	HasValue bool
	Note     string
	// Fix is what a template field holding a bare path probably meant
	// ({{ path }}); a button puts it into the field (app.js).
	Fix string
}

// RunsFilter is the run history's filter, as the query string holds it.
type RunsFilter struct {
	Flow, Status, Period string
	// Q searches the runs' payloads (engine.ParseSearch).
	Q string
	// Resolved "false" is the Needs attention view: failed runs no retry
	// or replay resolved.
	Resolved string
}

// RunsProps is the run history page.
type RunsProps struct {
	Page    PageProps
	FlowIDs []string
	Filter  RunsFilter
	Runs    []engine.RunSummary
	// NextURL and FirstURL page through the history; empty when there is
	// no such page.
	NextURL  string
	FirstURL string
	// RowsURL refreshes the rows (first page only); LiveURL is the event
	// stream that says when to.
	RowsURL string
	LiveURL string
	Error   string
	// Resolved marks the failed runs of the page that a retry or replay
	// resolved.
	Resolved map[string]bool
	// FlowNames maps flow ids to their names (deleted flows have none).
	FlowNames map[string]string
}

// flowName is a flow's name for the runs page, else its id.
func (p RunsProps) flowName(id string) string {
	if n := p.FlowNames[id]; n != "" {
		return n
	}
	return id
}

// TriggerView is the event that started a run, ready to show.
type TriggerView struct {
	Source, Method, Path string
	Headers              map[string]string
	Query                map[string]string
	// Body is the payload as pretty JSON (or the raw text).
	Body       string
	ReceivedAt time.Time
}

// RunDetailProps is one run, step by step.
type RunDetailProps struct {
	Page PageProps
	Run  *engine.Run
	// Flow is the flow as the run ran it (its version), for the diagram;
	// nil when that version is gone.
	Flow    *flows.Flow
	Trigger *TriggerView
	// LiveURL is set while the run can still change.
	LiveURL string
	// Links are the run's retries and replays and its resolution.
	Links engine.RunLinks
	// WaitingFor says what holds the run back (engine.Engine.WaitingFor).
	WaitingFor string
	// Loops holds the page of items shown for each loop step, by its id.
	Loops map[string]*engine.LoopPage
	// Find are fields of the trigger with the search for other runs whose
	// event holds the same value ("Find runs with the same value").
	Find []engine.SearchField
}

// ReplayProps asks before a run is replayed from the start, listing the
// steps that will call external services again.
type ReplayProps struct {
	Page     PageProps
	Run      *engine.Run
	External []engine.ExternalStep
}

// ConnectionsProps is the connections page; with Type set it shows the
// form that creates a connection of that type.
type ConnectionsProps struct {
	Page        PageProps
	Connections []engine.ConnectionInfo
	Types       []connectors.ConnectionType
	// Type is the type of the connection being created (nil: none).
	Type   *connectors.ConnectionType
	Name   string
	Errors map[string][]string
	// Values are what was typed into the fields that are not secret,
	// shown again with the errors; secrets are never sent back.
	Values map[string]string
	// Tested is the outcome of the latest Test of one connection.
	Tested *ConnectionTested
	// UsedBy maps a connection's name to the ids of the flows using it.
	UsedBy map[string][]string
	// RateRequests and RatePer are the rate limit typed into the form,
	// shown again with the errors.
	RateRequests, RatePer string
}

// DeleteConnectionProps asks before a connection that flows use is
// deleted, naming those flows.
type DeleteConnectionProps struct {
	Page  PageProps
	Name  string
	Flows []string
	// Settings: the settings' run notifications sign with it too.
	Settings bool
}

// TokensProps is the API tokens page. NewToken is shown once, right after
// it was created.
type TokensProps struct {
	Page      PageProps
	Tokens    []auth.TokenRecord
	NewToken  string
	NewName   string
	Error     string
	PublicURL string
}

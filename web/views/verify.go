package views

import (
	"slices"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/flows"
)

// verifyOptionSchemes says which verify schemes read each option the
// builder shows, as flows validation accepts them (a test checks the two
// agree). Options a scheme does not read are dropped when the form is
// read back, so switching schemes never leaves a stray option behind.
var verifyOptionSchemes = map[string][]string{
	"tolerance":        {flows.VerifyStandardWebhooks, flows.VerifyStripe, flows.VerifySlack, flows.VerifyHubSpot, flows.VerifyHMAC},
	"header":           {flows.VerifyHMAC, flows.VerifyToken},
	"prefix":           {flows.VerifyHMAC, flows.VerifyToken},
	"query":            {flows.VerifyToken},
	"algorithm":        {flows.VerifyHMAC},
	"encoding":         {flows.VerifyHMAC},
	"signed":           {flows.VerifyHMAC},
	"timestamp_header": {flows.VerifyHMAC},
	"id_header":        {flows.VerifyHMAC},
}

// VerifyOptionNames lists the scheme options the builder shows, in form
// order.
var VerifyOptionNames = []string{"tolerance", "header", "prefix", "query", "algorithm", "encoding", "signed", "timestamp_header", "id_header"}

// VerifyTakes reports whether a verify scheme reads an option. An unknown
// scheme takes every option, so nothing is dropped before validation
// names the scheme as the problem.
func VerifyTakes(scheme, option string) bool {
	if !slices.Contains(flows.VerifySchemes, scheme) {
		return true
	}
	return slices.Contains(verifyOptionSchemes[option], scheme)
}

func verifySchemesFor(option string) string {
	return strings.Join(verifyOptionSchemes[option], " ")
}

func verifySchemesLabel(option string) string {
	return strings.Join(verifyOptionSchemes[option], ", ")
}

func verifyOf(t flows.Trigger) flows.Verify {
	if t.Verify == nil {
		return flows.Verify{}
	}
	return *t.Verify
}

// keepUnshownVerify copies into dst the fields of src the builder has no
// input for: everything but scheme, secret, secrets, the lists and the
// options of VerifyOptionNames.
func keepUnshownVerify(dst, src *flows.Verify) {
	*dst = *src
	dst.Scheme, dst.Secret, dst.Secrets, dst.AllowIPs, dst.TrustedProxies = "", "", nil, nil, nil
	dst.Tolerance = 0
	dst.Header, dst.Prefix, dst.Query, dst.Algorithm, dst.Encoding = "", "", "", "", ""
	dst.Signed, dst.TimestampHeader, dst.IDHeader = "", "", ""
}

func intText(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

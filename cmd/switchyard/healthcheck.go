package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// cmdHealthcheck asks a running server whether it is ready (GET /readyz)
// and exits 0 when it answers 200, 1 otherwise: the container image's
// HEALTHCHECK, which has no shell or curl to do it.
func cmdHealthcheck(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addr := fs.String("addr", "127.0.0.1:8080", "the server's listen address (a wildcard host is asked on loopback)")
	bindEnv(fs, "addr", "SWITCHYARD_ADDR")
	path := fs.String("path", "/readyz", "the endpoint: /readyz (ready, the database takes writes) or /healthz (the process answers)")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usageError{"healthcheck takes no arguments"}
	}
	url := "http://" + dialAddr(*addr) + *path
	client := &http.Client{Timeout: *timeout}
	resp, err := client.Get(url)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s", url, resp.Status)
	}
	fmt.Fprintf(stdout, "%s: %s\n", url, resp.Status)
	return nil
}

// dialAddr turns a listen address into one to connect to: a server that
// listens on every interface (0.0.0.0:8080, :8080, [::]:8080) is asked on
// loopback.
func dialAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

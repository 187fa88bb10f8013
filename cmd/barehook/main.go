// Command barehook exists only as the baseline of `make bench`: a bare Fiber
// app that answers every webhook the way Switchyard's async ingress does
// (202 {"run_id": ...} with the same headers) but stores nothing. The ratio
// between Switchyard and barehook on the same machine, in the same run, is
// the cost of durable ingest. It is not part of the product.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/gofiber/fiber/v2"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "listen address")
	flag.Parse()

	// The knobs that shape throughput match web.New: default concurrency,
	// no startup banner, the same read buffer.
	app := fiber.New(fiber.Config{
		AppName:               "barehook",
		DisableStartupMessage: true,
		ReadBufferSize:        16 << 10,
	})
	app.Use(func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
		c.Set(fiber.HeaderXFrameOptions, "DENY")
		c.Set(fiber.HeaderReferrerPolicy, "same-origin")
		return c.Next()
	})
	app.All("/hooks/*", func(c *fiber.Ctx) error {
		c.Set("Switchyard-Run-Id", "x")
		return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"run_id": "x"})
	})
	if err := app.Listen(*addr); err != nil {
		fmt.Fprintln(os.Stderr, "barehook:", err)
		os.Exit(1)
	}
}

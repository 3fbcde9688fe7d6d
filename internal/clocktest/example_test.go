package clocktest_test

import (
	"fmt"
	"time"

	"github.com/forgekit/accesstoken/internal/clocktest"
)

// A test moves the clock on instead of sleeping.
func Example() {
	clk := clocktest.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	expires := clk.Now().Add(time.Hour)
	clk.Advance(59 * time.Minute)
	fmt.Println("expired after 59 minutes:", !clk.Now().Before(expires))
	clk.Advance(time.Minute)
	fmt.Println("expired after an hour:", !clk.Now().Before(expires))
	clk.Set(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	fmt.Println(clk.Now().Format(time.RFC3339))
	// Output:
	// expired after 59 minutes: false
	// expired after an hour: true
	// 2026-01-02T03:04:05Z
}

// goorders CTL_HOST:PORT DST_HOST:PORT — an implant's pattern, static Go
// (tests/func/kev_go.sh): dial the controller, read one line of orders
// (echoed to stderr as "orders: LINE"), close that connection, then dial the
// destination and hold it until it closes. Built with CGO_ENABLED=0.
package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
)

func main() {
	if len(os.Args) != 3 {
		os.Exit(2)
	}
	c, err := net.Dial("tcp", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "goorders:", err)
		os.Exit(1)
	}
	line, _ := bufio.NewReader(c).ReadString('\n')
	c.Close()
	fmt.Fprintln(os.Stderr, "orders:", strings.TrimSpace(line))
	d, err := net.Dial("tcp", os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "goorders:", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "goorders: connected")
	io.Copy(io.Discard, d)
}

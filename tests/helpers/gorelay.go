// gorelay LISTEN_PORT DST_HOST:DST_PORT — a tunnelling tool's core, as the
// common static Go ones (chisel, gost) do it: accept one connection, dial the
// destination, copy both ways (tests/func/kev_go.sh). Built with
// CGO_ENABLED=0: a static binary with its own syscalls, no libc.
package main

import (
	"fmt"
	"io"
	"net"
	"os"
)

func main() {
	if len(os.Args) != 3 {
		os.Exit(2)
	}
	l, err := net.Listen("tcp", ":"+os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "gorelay:", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "gorelay: listening")
	c, err := l.Accept()
	if err != nil {
		os.Exit(1)
	}
	d, err := net.Dial("tcp", os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "gorelay:", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "gorelay: relaying")
	go io.Copy(d, c)
	io.Copy(c, d)
}

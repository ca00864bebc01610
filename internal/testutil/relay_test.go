package testutil

import (
	"bufio"
	"net"
	"testing"
)

func TestRelayCutsAndRestores(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // echo server
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					c.Write([]byte(sc.Text() + "\n"))
				}
			}()
		}
	}()
	r := NewRelay(t, ln.Addr().String())
	echo := func(c net.Conn) (string, error) {
		if _, err := c.Write([]byte("ping\n")); err != nil {
			return "", err
		}
		return bufio.NewReader(c).ReadString('\n')
	}
	c, err := net.Dial("tcp", r.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := echo(c); err != nil || got != "ping\n" {
		t.Fatalf("through the relay: %q, %v", got, err)
	}
	r.Cut()
	if got, err := echo(c); err == nil {
		t.Errorf("an open connection still answered %q after Cut", got)
	}
	c2, err := net.Dial("tcp", r.Addr)
	if err == nil {
		if got, err := echo(c2); err == nil {
			t.Errorf("a new connection answered %q while cut", got)
		}
	}
	r.Restore()
	c3, err := net.Dial("tcp", r.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := echo(c3); err != nil || got != "ping\n" {
		t.Errorf("after Restore: %q, %v", got, err)
	}
}

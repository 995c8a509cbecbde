// Command pause is the pod sandbox's process: it holds the pod's namespaces
// open, reaps zombies when it is PID 1 of a shared PID namespace, and exits on
// SIGINT/SIGTERM, like upstream's build/pause/linux/pause.c. No image can be
// pulled here, so the sandbox image is built from this binary.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version is the upstream pause release this stands in for (its image tag).
const version = "3.10.2"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-v" {
		fmt.Printf("pause.go %s\n", version)
		return
	}
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "Warning: pause should be the first process")
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			fmt.Fprintf(os.Stderr, "Shutting down, got signal: %v\n", s)
			os.Exit(0)
		}
		for {
			var status syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}

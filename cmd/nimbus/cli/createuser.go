package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/nimbus-server/nimbus/config"
	"github.com/nimbus-server/nimbus/plugins/accounts"
)

// Exit codes of create-user (ACC-13).
const (
	exitReadonly    = 51
	exitNoAccounts  = 52
	exitInputAbort  = 53
	exitCreateError = 1
)

var errAborted = errors.New("input aborted")

// prompter reads answers from stdin; passwords are not echoed on a
// terminal.
type prompter struct {
	in  *bufio.Reader
	out io.Writer
	fd  int
	tty bool
}

func (p *prompter) ask(q string, secret bool) (string, error) {
	fmt.Fprint(p.out, q)
	if secret && p.tty {
		b, err := term.ReadPassword(p.fd)
		fmt.Fprintln(p.out)
		if err != nil {
			return "", errAborted
		}
		return string(b), nil
	}
	line, err := p.in.ReadString('\n')
	if err != nil && (line == "" || err != io.EOF) {
		return "", errAborted
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func createUser(g globals, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("create-user", flag.ContinueOnError)
	fs.SetOutput(stderr)
	user := fs.String("u", "", "account id")
	fs.StringVar(user, "username", "", "account id")
	pass := fs.String("p", "", "password")
	fs.StringVar(pass, "password", "", "password")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	s, err := config.Load(g.ini, g.explicit, os.Environ(), "")
	if err != nil {
		fmt.Fprintf(stderr, "nimbus: %v\n", err)
		return 1
	}
	if s.Path == "" {
		zeroDefaults(s)
	}
	if s.Bool("readonly") {
		fmt.Fprintln(stderr, "nimbus: the server is configured readonly; no account can be created")
		return exitReadonly
	}
	included := false
	for _, name := range s.List("includes") {
		included = included || name == "accounts" || name == "kinto.plugins.accounts"
	}
	if !included {
		fmt.Fprintln(stderr, "nimbus: the accounts plugin is not in includes")
		return exitNoAccounts
	}
	p := &prompter{in: bufio.NewReader(stdin), out: stdout}
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.fd, p.tty = int(f.Fd()), true
	}
	if *user != "" && !accounts.IDPattern.MatchString(*user) {
		// Given on the command line: a script, which a prompt would hang.
		fmt.Fprintf(stderr, "nimbus: %q is not a valid account id (letters, digits and +.@_-, starting with a letter or digit)\n", *user)
		return exitCreateError
	}
	for !accounts.IDPattern.MatchString(*user) {
		if *user != "" {
			fmt.Fprintf(stderr, "%q is not a valid account id\n", *user)
		}
		if *user, err = p.ask("Username: ", false); err != nil {
			fmt.Fprintln(stderr, "nimbus: input aborted")
			return exitInputAbort
		}
	}
	for *pass == "" {
		first, err := p.ask("Password: ", true)
		if err != nil {
			fmt.Fprintln(stderr, "nimbus: input aborted")
			return exitInputAbort
		}
		second, err := p.ask("Password (again): ", true)
		if err != nil {
			fmt.Fprintln(stderr, "nimbus: input aborted")
			return exitInputAbort
		}
		if first != second {
			fmt.Fprintln(stderr, "The passwords differ; try again.")
			continue
		}
		*pass = first
	}
	backend, err := openBackend(s)
	if err != nil {
		fmt.Fprintf(stderr, "nimbus: %v\n", err)
		return exitCreateError
	}
	defer backend.Close()
	created, err := accounts.CreateUser(context.Background(), backend, s, *user, *pass)
	if err != nil {
		fmt.Fprintf(stderr, "nimbus: %v\n", err)
		return exitCreateError
	}
	if created {
		fmt.Fprintf(stdout, "Account %s created.\n", *user)
	} else {
		fmt.Fprintf(stdout, "Password of account %s changed.\n", *user)
	}
	return 0
}

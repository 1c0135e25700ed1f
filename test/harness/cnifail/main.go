// Command cnifail is a CNI plugin for fault injection: chained after the
// real plugins, it passes ADD through, and fails DEL while its marker file
// exists, as a broken network plugin would.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
)

type config struct {
	CNIVersion string          `json:"cniVersion"`
	FailMarker string          `json:"failMarker"`
	PrevResult json.RawMessage `json:"prevResult"`
}

func main() {
	in, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail("read config: " + err.Error())
	}
	var c config
	if len(in) > 0 {
		if err := json.Unmarshal(in, &c); err != nil {
			fail("parse config: " + err.Error())
		}
	}
	switch os.Getenv("CNI_COMMAND") {
	case "ADD":
		if len(c.PrevResult) == 0 {
			fail("cnifail must be chained after a plugin that returns a result")
		}
		os.Stdout.Write(c.PrevResult)
	case "DEL":
		if _, err := os.Stat(c.FailMarker); err == nil {
			fail(fmt.Sprintf("graceline test plugin: DEL fails while %s exists", c.FailMarker))
		}
	case "VERSION":
		fmt.Print(`{"cniVersion":"1.0.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0"]}`)
	}
}

func fail(msg string) {
	fmt.Printf(`{"cniVersion":"1.0.0","code":999,"msg":%q}`, msg)
	os.Exit(1)
}

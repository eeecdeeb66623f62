package main

import (
	"bufio"
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/storacha/storefs/store/blobcache"
)

func cacheCommand() *cli.Command {
	return &cli.Command{
		Name:      "cache",
		Usage:     "list, sum up and clear a mount's --cache-dir",
		UsageText: "storefs cache COMMAND DIR\n\nExample:\n   storefs cache stat /var/cache/storefs",
		Subcommands: []*cli.Command{
			{
				Name:      "ls",
				Usage:     "list cached blobs: \"<b32>\\t<cached bytes>\\t<size>\" (0 cached bytes: only its outboard is kept)",
				ArgsUsage: "DIR",
				UsageText: "storefs cache ls DIR\n\nExample:\n   storefs cache ls /var/cache/storefs | sort -t$'\\t' -k2 -n",
				Action:    cacheList,
			},
			{
				Name:      "stat",
				Usage:     "sum up a cache: blobs, bytes, outboards, disk used, and the mount using it",
				ArgsUsage: "DIR",
				UsageText: "storefs cache stat DIR\n\nExample:\n   storefs cache stat /var/cache/storefs",
				Action:    cacheStat,
			},
			{
				Name:      "clear",
				Usage:     "empty a cache; refused while a mount uses it",
				ArgsUsage: "DIR",
				UsageText: "storefs cache clear DIR\n\nExample:\n   storefs unmount /mnt/piri && storefs cache clear /var/cache/storefs",
				Action:    cacheClear,
			},
		},
	}
}

func cacheList(c *cli.Context) error {
	if err := args(c, 1, 1); err != nil {
		return err
	}
	list, err := blobcache.List(c.Args().First())
	if err != nil {
		return err
	}
	w := bufio.NewWriter(c.App.Writer)
	for _, in := range list {
		fmt.Fprintf(w, "%s\t%d\t%d\n", in.Name, in.Cached, in.Size)
	}
	return w.Flush()
}

func cacheStat(c *cli.Context) error {
	if err := args(c, 1, 1); err != nil {
		return err
	}
	dir := c.Args().First()
	list, err := blobcache.List(dir)
	if err != nil {
		return err
	}
	var blobs, complete, outboards int
	var cached, disk int64
	for _, in := range list {
		if in.Cached > 0 {
			blobs++
		}
		if in.Cached == in.Size && in.Cached > 0 {
			complete++
		}
		if in.Outboard {
			outboards++
		}
		cached += in.Cached
		disk += in.Disk
	}
	holder := blobcache.Holder(dir)
	if holder == "" {
		holder = "none"
	}
	w := c.App.Writer
	fmt.Fprintf(w, "dir:        %s\n", dir)
	fmt.Fprintf(w, "blobs:      %d (%d complete)\n", blobs, complete)
	fmt.Fprintf(w, "cached:     %d bytes\n", cached)
	fmt.Fprintf(w, "outboards:  %d\n", outboards)
	fmt.Fprintf(w, "disk:       %d bytes\n", disk)
	fmt.Fprintf(w, "in use by:  %s\n", holder)
	return nil
}

func cacheClear(c *cli.Context) error {
	if err := args(c, 1, 1); err != nil {
		return err
	}
	err := blobcache.Clear(c.Args().First())
	if errors.Is(err, blobcache.ErrLocked) {
		return fmt.Errorf("%w; unmount it first", err)
	}
	return err
}

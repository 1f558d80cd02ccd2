{
  # Built offline against the system Node headers:
  #   node-gyp rebuild --directory native --nodedir=/usr
  # (--nodedir=/usr makes node-gyp use /usr/include/node instead of downloading
  # a header tarball.) Plain C, Node-API only (NAPI_VERSION 8) plus libuv's
  # uv_poll/uv_timer for pollAsync (headers ship in /usr/include/node/uv).
  "targets": [
    {
      "target_name": "vhostcheck_native",
      "sources": ["vhostcheck_native.c"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wshadow", "-Wstrict-prototypes"],
      # common.gypi adds -Wno-unused-parameter; drop it so the file is checked
      # with the full -Wall -Wextra set.
      "cflags!": ["-Wno-unused-parameter"]
    },
    {
      # The guest agent's source, built for this host: targets on the host's own
      # device nodes (vhost-vdpa:/dev/vhost-vdpa-N) run it as a child process
      # (implementations/vhost-vdpa/localAgent.ts), so a device call that never
      # returns blocks that process, not the suite's event loop.
      "target_name": "vhostcheck-agent",
      "type": "executable",
      "sources": ["../implementations/guest/agent/agent.c"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-pthread"],
      "ldflags": ["-pthread"]
    }
  ]
}

{
  "targets": [
    {
      "target_name": "dynod",
      "sources": ["native/addon.cc", "native/process.cc", "native/userns.cc", "native/cgroup.cc", "native/mounts.cc", "native/net.cc", "native/netlink.cc", "native/seccomp.cc", "native/enter.cc", "native/console.cc", "native/devices.cc", "native/hooks.cc", "native/spare.cc", "native/router-plane.cc"],
      "libraries": ["-ldl"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "_GNU_SOURCE"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Wno-missing-field-initializers", "-Wno-unused-parameter"],
      "cflags": ["-Wall"]
    },
    {
      "target_name": "dynod-init",
      "type": "executable",
      "sources": ["native/init.cc"],
      "defines": ["_GNU_SOURCE"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-fno-exceptions", "-fno-rtti", "-Os", "-Wall", "-Wextra"],
      "ldflags": ["-static"],
      "conditions": [
        ["target_arch=='x64'", {
          "sources": ["native/init-rt.c"],
          "cflags": ["-fno-stack-protector", "-fno-asynchronous-unwind-tables"],
          "cflags_c": ["-Os", "-ffreestanding", "-fno-tree-loop-distribute-patterns"],
          "ldflags": ["-nostdlib", "-no-pie", "-Wl,--gc-sections"],
          "libraries": ["-lgcc"]
        }]
      ]
    }
  ]
}

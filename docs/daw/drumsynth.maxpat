{
 "patcher": {
  "fileversion": 1,
  "appversion": {
   "major": 8,
   "minor": 5,
   "revision": 0,
   "architecture": "x64",
   "modernui": 1
  },
  "classnamespace": "box",
  "rect": [
   60.0,
   80.0,
   980.0,
   620.0
  ],
  "default_fontsize": 12.0,
  "boxes": [
   {
    "box": {
     "id": "c-title",
     "maxclass": "comment",
     "patching_rect": [
      20,
      10,
      640,
      22.0
     ],
     "text": "drumsynth OSC client. Start the server first: drumsynth serve --out ~/drumsynth-renders",
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "c-ports",
     "maxclass": "comment",
     "patching_rect": [
      20,
      32,
      640,
      22.0
     ],
     "text": "Sends to 127.0.0.1:7400; replies arrive on 7401. In Max for Live, swap ezdac~ for plugout~.",
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "send",
     "maxclass": "newobj",
     "patching_rect": [
      20,
      560,
      150,
      22.0
     ],
     "text": "udpsend 127.0.0.1 7400",
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "c-1",
     "maxclass": "comment",
     "patching_rect": [
      20,
      60,
      300,
      22.0
     ],
     "text": "ping, Generate (new centre), Change direction",
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "loadbang",
     "maxclass": "newobj",
     "patching_rect": [
      20,
      85,
      70,
      22.0
     ],
     "text": "loadbang",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      "bang"
     ]
    }
   },
   {
    "box": {
     "id": "ping",
     "maxclass": "message",
     "patching_rect": [
      20,
      110,
      80,
      22.0
     ],
     "text": "/drum/ping",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      ""
     ]
    }
   },
   {
    "box": {
     "id": "gen-b",
     "maxclass": "button",
     "patching_rect": [
      120,
      85,
      24.0,
      24.0
     ],
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      "bang"
     ]
    }
   },
   {
    "box": {
     "id": "gen",
     "maxclass": "message",
     "patching_rect": [
      120,
      110,
      110,
      22.0
     ],
     "text": "/drum/generate",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      ""
     ]
    }
   },
   {
    "box": {
     "id": "seed",
     "maxclass": "number",
     "patching_rect": [
      240,
      85,
      60,
      22.0
     ],
     "numinlets": 1,
     "numoutlets": 2,
     "outlettype": [
      "",
      "bang"
     ]
    }
   },
   {
    "box": {
     "id": "seed-p",
     "maxclass": "newobj",
     "patching_rect": [
      240,
      110,
      150,
      22.0
     ],
     "text": "prepend /drum/generate",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ]
    }
   },
   {
    "box": {
     "id": "dir",
     "maxclass": "message",
     "patching_rect": [
      400,
      110,
      190,
      22.0
     ],
     "text": "/drum/vary/new_direction",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      ""
     ]
    }
   },
   {
    "box": {
     "id": "c-2",
     "maxclass": "comment",
     "patching_rect": [
      20,
      145,
      300,
      22.0
     ],
     "text": "class menu and variation intensity",
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "menu",
     "maxclass": "umenu",
     "patching_rect": [
      20,
      170,
      120,
      22.0
     ],
     "numinlets": 1,
     "numoutlets": 3,
     "outlettype": [
      "int",
      "",
      ""
     ],
     "items": [
      "kick",
      ",",
      "snare",
      ",",
      "clap",
      ",",
      "hihat_closed",
      ",",
      "hihat_open",
      ",",
      "cymbal",
      ",",
      "tom",
      ",",
      "perc"
     ]
    }
   },
   {
    "box": {
     "id": "menu-p",
     "maxclass": "newobj",
     "patching_rect": [
      20,
      200,
      130,
      22.0
     ],
     "text": "prepend /drum/type",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ]
    }
   },
   {
    "box": {
     "id": "int",
     "maxclass": "flonum",
     "patching_rect": [
      240,
      170,
      60,
      22.0
     ],
     "numinlets": 1,
     "numoutlets": 2,
     "outlettype": [
      "",
      "bang"
     ],
     "minimum": -5.0,
     "maximum": 5.0,
     "format": 6
    }
   },
   {
    "box": {
     "id": "int-p",
     "maxclass": "newobj",
     "patching_rect": [
      240,
      200,
      190,
      22.0
     ],
     "text": "prepend /drum/vary/intensity",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ]
    }
   },
   {
    "box": {
     "id": "c-3",
     "maxclass": "comment",
     "patching_rect": [
      20,
      235,
      420,
      22.0
     ],
     "text": "XY pad (ndm: P1, P2 in -1..1; drumgan: the variation plane), Fine, Range",
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "pad",
     "maxclass": "pictslider",
     "patching_rect": [
      20,
      260,
      100.0,
      100.0
     ],
     "numinlets": 2,
     "numoutlets": 2,
     "outlettype": [
      "int",
      "int"
     ]
    }
   },
   {
    "box": {
     "id": "sx",
     "maxclass": "newobj",
     "patching_rect": [
      20,
      370,
      120,
      22.0
     ],
     "text": "scale 0 127 -1. 1.",
     "numinlets": 6,
     "numoutlets": 1,
     "outlettype": [
      ""
     ]
    }
   },
   {
    "box": {
     "id": "sy",
     "maxclass": "newobj",
     "patching_rect": [
      150,
      370,
      120,
      22.0
     ],
     "text": "scale 0 127 1. -1.",
     "numinlets": 6,
     "numoutlets": 1,
     "outlettype": [
      ""
     ]
    }
   },
   {
    "box": {
     "id": "pak",
     "maxclass": "newobj",
     "patching_rect": [
      20,
      400,
      80,
      22.0
     ],
     "text": "pak 0. 0.",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      ""
     ]
    }
   },
   {
    "box": {
     "id": "xy-p",
     "maxclass": "newobj",
     "patching_rect": [
      20,
      430,
      110,
      22.0
     ],
     "text": "prepend /drum/xy",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ]
    }
   },
   {
    "box": {
     "id": "fine",
     "maxclass": "flonum",
     "patching_rect": [
      300,
      260,
      60,
      22.0
     ],
     "numinlets": 1,
     "numoutlets": 2,
     "outlettype": [
      "",
      "bang"
     ],
     "minimum": -1.0,
     "maximum": 1.0,
     "format": 6
    }
   },
   {
    "box": {
     "id": "fine-p",
     "maxclass": "newobj",
     "patching_rect": [
      300,
      290,
      130,
      22.0
     ],
     "text": "prepend /drum/fine",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ]
    }
   },
   {
    "box": {
     "id": "range",
     "maxclass": "flonum",
     "patching_rect": [
      450,
      260,
      60,
      22.0
     ],
     "numinlets": 1,
     "numoutlets": 2,
     "outlettype": [
      "",
      "bang"
     ],
     "minimum": 0.1,
     "maximum": 8.0,
     "format": 6
    }
   },
   {
    "box": {
     "id": "range-p",
     "maxclass": "newobj",
     "patching_rect": [
      450,
      290,
      130,
      22.0
     ],
     "text": "prepend /drum/range",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ]
    }
   },
   {
    "box": {
     "id": "c-4",
     "maxclass": "comment",
     "patching_rect": [
      300,
      330,
      360,
      22.0
     ],
     "text": "Analyze: drop a sound file (inside serve --allow folders)",
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "drop",
     "maxclass": "dropfile",
     "patching_rect": [
      300,
      355,
      160.0,
      40.0
     ],
     "numinlets": 1,
     "numoutlets": 2,
     "outlettype": [
      "",
      ""
     ]
    }
   },
   {
    "box": {
     "id": "conf",
     "maxclass": "newobj",
     "patching_rect": [
      300,
      400,
      170,
      22.0
     ],
     "text": "conformpath native absolute",
     "numinlets": 1,
     "numoutlets": 2,
     "outlettype": [
      "",
      "int"
     ]
    }
   },
   {
    "box": {
     "id": "ana-p",
     "maxclass": "newobj",
     "patching_rect": [
      300,
      430,
      150,
      22.0
     ],
     "text": "prepend /drum/analyze",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ]
    }
   },
   {
    "box": {
     "id": "c-5",
     "maxclass": "comment",
     "patching_rect": [
      20,
      470,
      300,
      22.0
     ],
     "text": "crop and save",
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "crop",
     "maxclass": "message",
     "patching_rect": [
      20,
      495,
      110,
      22.0
     ],
     "text": "/drum/crop 0. 0.5",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      ""
     ]
    }
   },
   {
    "box": {
     "id": "uncrop",
     "maxclass": "message",
     "patching_rect": [
      140,
      495,
      100,
      22.0
     ],
     "text": "/drum/crop 0. 1.",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      ""
     ]
    }
   },
   {
    "box": {
     "id": "save",
     "maxclass": "message",
     "patching_rect": [
      250,
      495,
      130,
      22.0
     ],
     "text": "/drum/save keeper",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      ""
     ]
    }
   },
   {
    "box": {
     "id": "c-6",
     "maxclass": "comment",
     "patching_rect": [
      620,
      60,
      330,
      22.0
     ],
     "text": "replies: /drum/sample <path> <id> <ms>",
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "recv",
     "maxclass": "newobj",
     "patching_rect": [
      620,
      85,
      110,
      22.0
     ],
     "text": "udpreceive 7401",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ]
    }
   },
   {
    "box": {
     "id": "route",
     "maxclass": "newobj",
     "patching_rect": [
      620,
      115,
      330,
      22.0
     ],
     "text": "route /drum/sample /drum/error /drum/dropped /drum/pong",
     "numinlets": 2,
     "numoutlets": 5,
     "outlettype": [
      "",
      "",
      "",
      "",
      ""
     ]
    }
   },
   {
    "box": {
     "id": "unpack",
     "maxclass": "newobj",
     "patching_rect": [
      620,
      145,
      90,
      22.0
     ],
     "text": "unpack s 0 0.",
     "numinlets": 1,
     "numoutlets": 3,
     "outlettype": [
      "",
      "int",
      "float"
     ]
    }
   },
   {
    "box": {
     "id": "repl",
     "maxclass": "newobj",
     "patching_rect": [
      620,
      175,
      110,
      22.0
     ],
     "text": "prepend replace",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ]
    }
   },
   {
    "box": {
     "id": "buf",
     "maxclass": "newobj",
     "patching_rect": [
      620,
      205,
      120,
      22.0
     ],
     "text": "buffer~ drumsynth",
     "numinlets": 1,
     "numoutlets": 2,
     "outlettype": [
      "float",
      "bang"
     ]
    }
   },
   {
    "box": {
     "id": "start",
     "maxclass": "message",
     "patching_rect": [
      620,
      240,
      60,
      22.0
     ],
     "text": "start 0",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      ""
     ]
    }
   },
   {
    "box": {
     "id": "again",
     "maxclass": "button",
     "patching_rect": [
      700,
      240,
      24.0,
      24.0
     ],
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      "bang"
     ]
    }
   },
   {
    "box": {
     "id": "play",
     "maxclass": "newobj",
     "patching_rect": [
      620,
      270,
      110,
      22.0
     ],
     "text": "play~ drumsynth",
     "numinlets": 1,
     "numoutlets": 2,
     "outlettype": [
      "signal",
      "bang"
     ]
    }
   },
   {
    "box": {
     "id": "dac",
     "maxclass": "ezdac~",
     "patching_rect": [
      620,
      305,
      45.0,
      45.0
     ],
     "numinlets": 2,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "p-sample",
     "maxclass": "newobj",
     "patching_rect": [
      760,
      175,
      150,
      22.0
     ],
     "text": "print drumsynth-sample",
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "p-err",
     "maxclass": "newobj",
     "patching_rect": [
      760,
      205,
      150,
      22.0
     ],
     "text": "print drumsynth-error",
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "p-drop",
     "maxclass": "newobj",
     "patching_rect": [
      760,
      235,
      160,
      22.0
     ],
     "text": "print drumsynth-dropped",
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "p-pong",
     "maxclass": "newobj",
     "patching_rect": [
      760,
      265,
      150,
      22.0
     ],
     "text": "print drumsynth-pong",
     "numinlets": 1,
     "numoutlets": 0
    }
   }
  ],
  "lines": [
   {
    "patchline": {
     "source": [
      "loadbang",
      0
     ],
     "destination": [
      "ping",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "gen-b",
      0
     ],
     "destination": [
      "gen",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "seed",
      0
     ],
     "destination": [
      "seed-p",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "menu",
      0
     ],
     "destination": [
      "menu-p",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "int",
      0
     ],
     "destination": [
      "int-p",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "pad",
      0
     ],
     "destination": [
      "sx",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "pad",
      1
     ],
     "destination": [
      "sy",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "sx",
      0
     ],
     "destination": [
      "pak",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "sy",
      0
     ],
     "destination": [
      "pak",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "pak",
      0
     ],
     "destination": [
      "xy-p",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "fine",
      0
     ],
     "destination": [
      "fine-p",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "range",
      0
     ],
     "destination": [
      "range-p",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "drop",
      0
     ],
     "destination": [
      "conf",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "conf",
      0
     ],
     "destination": [
      "ana-p",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "ping",
      0
     ],
     "destination": [
      "send",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "gen",
      0
     ],
     "destination": [
      "send",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "seed-p",
      0
     ],
     "destination": [
      "send",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "dir",
      0
     ],
     "destination": [
      "send",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "menu-p",
      0
     ],
     "destination": [
      "send",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "int-p",
      0
     ],
     "destination": [
      "send",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "xy-p",
      0
     ],
     "destination": [
      "send",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "fine-p",
      0
     ],
     "destination": [
      "send",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "range-p",
      0
     ],
     "destination": [
      "send",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "ana-p",
      0
     ],
     "destination": [
      "send",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "crop",
      0
     ],
     "destination": [
      "send",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "uncrop",
      0
     ],
     "destination": [
      "send",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "save",
      0
     ],
     "destination": [
      "send",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "recv",
      0
     ],
     "destination": [
      "route",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "route",
      0
     ],
     "destination": [
      "unpack",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "route",
      0
     ],
     "destination": [
      "p-sample",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "route",
      1
     ],
     "destination": [
      "p-err",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "route",
      2
     ],
     "destination": [
      "p-drop",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "route",
      3
     ],
     "destination": [
      "p-pong",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "unpack",
      0
     ],
     "destination": [
      "repl",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "repl",
      0
     ],
     "destination": [
      "buf",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "buf",
      1
     ],
     "destination": [
      "start",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "again",
      0
     ],
     "destination": [
      "start",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "start",
      0
     ],
     "destination": [
      "play",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "play",
      0
     ],
     "destination": [
      "dac",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "play",
      0
     ],
     "destination": [
      "dac",
      1
     ]
    }
   }
  ]
 }
}

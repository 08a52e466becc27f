#![doc = "POP3 core"]

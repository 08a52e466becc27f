//! Archives: mboxrd files and zips of `.eml` files, with the UIDL in an `X-POP3-UIDL:` header.

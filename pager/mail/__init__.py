"""Incoming mail: what a message the support address received says, and whether it may be answered.

- ``parse``     raw bytes in, a frozen ``ParsedMail`` out (threading keys, body text, parts, bounce
                report, classification); never raises for any bytes, does no I/O, reads no clock
- ``classify``  the one decision on what kind of mail it is (normal, bounce, auto_reply,
                auto_generated, bulk, loop_risk, unparseable) and ``may_autoreply`` on top of it
- ``model``     the result: ``ParsedMail``, its ``Part``s, ``Bounce`` and ``Classification``
- ``text``      the text helpers: charsets, HTML to text, quoted history, subjects, message ids
"""

"""Desktop integration over D-Bus and XDG: notifications, dock/launcher progress, sleep
inhibition and the menu entry. Nothing here imports ``jobdeck.ui`` or runtime internals;
the composition root (``jobdeck.app``) builds these objects and wires them to the app.

Every piece does nothing, quietly (logging at debug level), when there is no session bus.
"""

"""The main window: launcher on the left, history in the centre, job details on the right."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from PySide6 import QtGui, QtWidgets
from PySide6.QtCore import (
    QByteArray,
    QEvent,
    QItemSelectionModel,
    QModelIndex,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QCloseEvent, QGuiApplication, QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..core.job_source import JobSource
from ..core.job_status import JobStatus
from ..core.registry import JobType
from ..core.text_search import MIN_INDEXED
from ..i18n import translate
from ..runtime.feed import JobEvents
from . import icons
from .empty_history import EmptyHistory
from .first_paint import AfterFirstPaint
from .formatting import status_text, type_text
from .history_model import ACTIVE_STATUSES, Column, HistoryModel, JobRole, status_cell
from .history_table import HistoryTable
from .job_details import JobDetails
from .launch_form import LaunchForm, LaunchForms
from .rows_shown import RowsShown
from .settings_store import SettingsStore

if TYPE_CHECKING:
    from PySide6.QtWidgets import QDockWidget

    from ..core.stats import JobStats
    from .job_warnings import JobWarnings  # (the app makes them once the store is open)
    from .stats_view import StatsView

__all__ = ["MainWindow"]

#: How long a search waits after the last keystroke (ms), for a text the text index looks
#: up (:data:`~jobdeck.core.text_search.MIN_INDEXED` characters or more): none. Its first
#: page costs ~10-20 ms at a million jobs, read off the GUI thread (a read superseded before
#: it starts is skipped, a count superseded is stopped); keys already queued when the timer
#: runs make one search. (Typing a word at 10 keys/s over 1M jobs, 2 busy cores: the
#: result painted ~5-60 ms after the last key, the GUI's longest pause mostly 5-35 ms, at
#: times 60-85 ms (so did the old delay's, at times); with 30 ms ~40-60 ms, with the
#: 250 ms of every search until then ~250-290 ms: tests/bench/bench_typing.py.)
SEARCH_DELAY_MS = 0
#: The same for a shorter text (1-2 characters): it is scanned for (a rare one's first page
#: takes seconds at a million jobs, and a read under way is not stopped), and is mostly the
#: start of a word still being typed.
SHORT_SEARCH_DELAY_MS = 250
ALL = "all"
ACTIVE = "active"
#: The store-trouble banner: white on dark red reads in light and dark palettes alike.
STORE_BANNER_STYLE = (
    "QLabel#storeBanner { background: #a32020; color: white; padding: 6px 10px;"
    " border-radius: 4px; font-weight: bold; }"
)
#: A window painted before the store is open fills its menus at most this long after it was
#: built when it has not been painted by then (started in the tray).
MENU_ITEMS_FALLBACK_MS = 1000
#: The history's status icons: the size of small icons in the usual styles.
HISTORY_ICON_SIZE = 16
#: Item data role of the type list: the icon's name.
ICON_ROLE = int(Qt.ItemDataRole.UserRole) + 1


class MainWindow(QMainWindow):
    """Launch jobs, browse the history, inspect one job.

    Left: the job types (icon, title, description) and the :class:`LaunchForm` of the one
    selected. Right: the history (:class:`HistoryModel` in a table) with a filter bar, above
    :class:`JobDetails` of the selected job. :meth:`show_job` selects a job, e.g. when a
    taskbar row or a notification is clicked. Window geometry is kept in ``settings``
    (QSettings-compatible) when given.

    Built on a ``tracker`` that is ``closed`` (an
    :class:`~jobdeck.core.unopened.UnopenedStore`: the app paints the window before it
    opens the store), the window says "Opening history…", shows no jobs and Start is
    disabled, until :meth:`attach` gives it the open store's tracker and feed.

    A banner at the top (:attr:`store_banner`) says, while it lasts, that the store cannot
    save job changes (a full disk), and why (``signals.storeTroubleChanged``).
    :meth:`dock_taskbar` puts a taskbar's rows into a dock area of the window (where a
    floating panel cannot be placed, e.g. on Wayland). Every control has an accessible
    name; a palette change repaints every icon in the new colours.

    Signals (GUI thread): ``settingsRequested()`` and ``quitRequested()`` from the Jobdeck
    menu; ``toggleTaskbarRequested()`` and ``focusTaskbarRequested()`` from the View menu.
    """

    settingsRequested = Signal()
    quitRequested = Signal()
    toggleTaskbarRequested = Signal()
    focusTaskbarRequested = Signal()

    def __init__(
        self,
        tracker: JobSource,
        signals: JobEvents,
        registry: Iterable[JobType],
        settings: SettingsStore | None = None,
        parent: QWidget | None = None,
        *,
        warnings: JobWarnings | None = None,
        stats: Callable[[], JobStats] | None = None,
    ) -> None:
        super().__init__(parent)
        registry = tuple(registry)
        self._tracker = tracker
        self._signals = signals
        self._registry = registry
        self._settings = settings
        self.jobs_dock: QDockWidget | None = None
        self.setWindowTitle(translate("MainWindow", "Jobdeck"))
        self.setWindowIcon(icons.app_icon())

        # launcher
        self.type_list = QListWidget(self)
        self.type_list.setAccessibleName(translate("MainWindow", "Job types"))
        self.type_list.setIconSize(QSize(24, 24))
        self.type_list.setWordWrap(True)
        self.type_list.setUniformItemSizes(False)
        self.forms = QStackedWidget(self)
        #: Each job type's launch form, built when first shown or asked for.
        self.launch_forms = LaunchForms(self.forms, tracker, self.show_job)
        for job_type in registry:
            item = QListWidgetItem(icons.icon(icons.type_icon_name(job_type.icon)), "")
            item.setText(type_text(job_type.title))
            item.setToolTip(type_text(job_type.description or job_type.title))
            item.setData(Qt.ItemDataRole.UserRole, job_type.name)
            item.setData(ICON_ROLE, icons.type_icon_name(job_type.icon))
            self.type_list.addItem(item)
            self.launch_forms.add(job_type)
        self.type_description = QLabel(self)
        self.type_description.setWordWrap(True)
        self.type_list.currentRowChanged.connect(self._on_type_selected)
        launcher_heading = QLabel(self)
        launcher_heading.setText(translate("MainWindow", "Launch"))
        # (bold by a style sheet: a copy of its font would make PySide6 create QFont's class
        # and its 8 enums, ~7M instructions, before the first paint; see LaunchForm's)
        launcher_heading.setStyleSheet("font-weight: bold")
        launcher_heading.setBuddy(self.type_list)
        launcher = QWidget(self)
        launcher_layout = QVBoxLayout(launcher)
        launcher_layout.setContentsMargins(0, 0, 0, 0)
        launcher_split = QSplitter(Qt.Orientation.Vertical, launcher)
        launcher_split.addWidget(self.type_list)
        launcher_split.addWidget(self.forms)
        launcher_split.setStretchFactor(0, 0)  # the list keeps its height; the form stretches
        launcher_split.setStretchFactor(1, 1)
        rows_shown = min(max(self.type_list.count(), 3), 7)
        row_height = max(self.type_list.sizeHintForRow(0), 28) if rows_shown else 28
        list_height = rows_shown * row_height + 2 * self.type_list.frameWidth() + 8
        self.type_list.setMinimumHeight(list_height)
        launcher_split.setSizes([list_height, 600])
        launcher_layout.addWidget(launcher_heading)
        launcher_layout.addWidget(launcher_split, 1)

        # history + filter bar
        self.model = HistoryModel(tracker, signals, parent=self, warnings=warnings)
        self.model.set_ticking(False)  # while the window shows (see showEvent)
        self.status_filter = QComboBox(self)
        self.status_filter.setAccessibleName(translate("MainWindow", "Show jobs with status"))
        self.status_filter.setToolTip(translate("MainWindow", "Show jobs with this status"))
        self.status_filter.addItem(translate("MainWindow", "All statuses"), ALL)
        self.status_filter.addItem(
            icons.status_icon("running"), translate("MainWindow", "Active"), ACTIVE
        )
        self.status_filter.setItemData(
            1, translate("MainWindow", "Pending and running jobs"), Qt.ItemDataRole.ToolTipRole
        )
        for status in JobStatus:
            self.status_filter.addItem(
                icons.status_icon(status.value), status_text(status), status.value
            )
        self.type_filter = QComboBox(self)
        self.type_filter.setAccessibleName(translate("MainWindow", "Show jobs of type"))
        self.type_filter.setToolTip(translate("MainWindow", "Show jobs of this type"))
        self.type_filter.addItem(translate("MainWindow", "All types"), ALL)
        for job_type in registry:
            self.type_filter.addItem(type_text(job_type.title), job_type.name)
        self.search_edit = QLineEdit(self)
        self.search_edit.setPlaceholderText(
            translate("MainWindow", "Search titles, messages, commands\u2026")
        )
        self.search_edit.setAccessibleName(translate("MainWindow", "Search job titles"))
        if not tracker.closed:  # (else once the store is open: see attach)
            self._add_clear_button()
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.timeout.connect(self.apply_filter)
        self.status_filter.currentIndexChanged.connect(self.apply_filter)
        self.type_filter.currentIndexChanged.connect(self.apply_filter)
        self.search_edit.textChanged.connect(self._on_search_edited)
        self.search_edit.returnPressed.connect(self.apply_filter)
        filter_bar = QHBoxLayout()
        filter_bar.addWidget(self.status_filter)
        filter_bar.addWidget(self.type_filter)
        filter_bar.addWidget(self.search_edit, 1)

        self.table = HistoryTable(self)  # (a search's count repaints its scroll bar alone)
        self.table.setAccessibleName(translate("MainWindow", "Job history"))
        self.table.setModel(self.model)
        self.table.setIconSize(QSize(HISTORY_ICON_SIZE, HISTORY_ICON_SIZE))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSortIndicator(Column.STARTED, Qt.SortOrder.DescendingOrder)
        self.table.setSortingEnabled(True)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 10)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        #: Tells the model how many rows the table shows (a search reads those first): once
        #: the window is painted (before, no search can run: its filters on the table and
        #: its scroll bar would call into Python for each of their ~30 events).
        self._rows_shown: RowsShown | None = None
        #: Says why the history is empty (no job yet, none that matches).
        self.empty_history = EmptyHistory(self.table, self.model)
        self._size_columns(registry)
        self.table.selectionModel().currentRowChanged.connect(self._on_row_changed)
        # a new filter's rows: laid out now, so that they are painted once (the layout a
        # view otherwise does in their first paint asks for a second one), at the newest
        self.model.filterApplied.connect(self.table.doItemsLayout)
        self.model.filterApplied.connect(self.table.scrollToTop)
        self.table.clicked.connect(self._on_row_clicked)
        history = QWidget(self)
        history_layout = QVBoxLayout(history)
        history_layout.setContentsMargins(0, 0, 0, 0)
        history_layout.addLayout(filter_bar)
        history_layout.addWidget(self.table, 1)

        # details
        self.details = JobDetails(tracker, signals, self, warnings=warnings)
        self.details.set_ticking(False)  # while the window shows (see showEvent)
        self.details.jobQueued.connect(self.show_job)

        # history above the details of the selected job, so the table keeps its width
        self.right_splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.right_splitter.addWidget(history)
        self.right_splitter.addWidget(self.details)
        self.right_splitter.setStretchFactor(0, 9)
        self.right_splitter.setStretchFactor(1, 11)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(launcher)
        self.splitter.addWidget(self.right_splitter)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 3)
        container = QWidget(self)
        outer = QVBoxLayout(container)
        outer.setContentsMargins(8, 8, 8, 8)
        self.store_banner = QLabel(container)
        self.store_banner.setObjectName("storeBanner")
        self.store_banner.setTextFormat(Qt.TextFormat.PlainText)
        self.store_banner.setWordWrap(True)
        self.store_banner.hide()  # (styled when first shown: see show_store_trouble)
        outer.addWidget(self.store_banner)
        #: The Jobs and Statistics tabs (None without ``stats``: the jobs fill the window).
        self.tabs: QTabWidget | None = None
        #: The Statistics tab's view, built when the tab is first shown.
        self.stats_view: StatsView | None = None
        self._stats_factory = stats
        if stats is None:
            outer.addWidget(self.splitter)
        else:
            self.tabs = QTabWidget(container)
            self.tabs.setDocumentMode(True)
            self.tabs.addTab(self.splitter, translate("MainWindow", "&Jobs"))
            self._stats_page = QWidget(self.tabs)
            QVBoxLayout(self._stats_page).setContentsMargins(0, 0, 0, 0)
            self.tabs.addTab(self._stats_page, translate("MainWindow", "&Statistics"))
            self.tabs.currentChanged.connect(self._on_tab_changed)
            outer.addWidget(self.tabs)
        signals.storeTroubleChanged.connect(self.show_store_trouble)
        self.setCentralWidget(container)
        self._build_menus()
        if tracker.closed:  # painted first: the menus' items right after (see _fill_menus)
            self._menus_later = AfterFirstPaint(
                self, self._after_first_paint, MENU_ITEMS_FALLBACK_MS
            )
        else:
            self._after_first_paint()
        self._fit_to_screen()
        #: True until the store is open (built on a closed tracker; see :meth:`attach`).
        self.opening = tracker.closed
        self.empty_history.set_opening(self.opening)
        # What the status bar says when nothing else: a menu's status tips and passing
        # messages cleared it for the rest of the session.
        self.statusBar().messageChanged.connect(self._say_idle_when_cleared)
        self._say_idle()

        if self.type_list.count():
            self.type_list.setCurrentRow(0)
        self._restore_state()
        self.show_store_trouble(signals.store_trouble)

    # --- public ----------------------------------------------------------------------------

    def attach(
        self, tracker: JobSource, signals: JobEvents, *, warnings: JobWarnings | None = None
    ) -> None:
        """Show the jobs of ``tracker`` (the store, now open) and follow ``signals``: the
        history is read (with the filter chosen meanwhile), Start is enabled, and the
        store's trouble shows in the banner. For a window built before the store was
        opened (see the class)."""
        self._tracker = tracker
        self._signals = signals
        self.launch_forms.attach(tracker)
        self._add_clear_button()
        self._after_first_paint()
        self.model.attach(tracker, signals, warnings)
        self.details.attach(tracker, signals, warnings)
        signals.storeTroubleChanged.connect(self.show_store_trouble)
        self.show_store_trouble(signals.store_trouble)
        self.opening = False
        self.empty_history.set_opening(False)
        self._say_idle()
        if self.tabs is not None:  # the Statistics tab was chosen meanwhile: build it now
            self._on_tab_changed(self.tabs.currentIndex())

    def _say_idle(self) -> None:
        """ "Opening history…" until the store is open, then "Ready"."""
        self.statusBar().showMessage(
            translate("MainWindow", "Opening history\u2026")
            if self.opening
            else translate("MainWindow", "Ready")
        )

    def _say_idle_when_cleared(self, message: str) -> None:
        if not message:
            self._say_idle()

    def show_store_trouble(self, message: str) -> None:
        """Show why job changes cannot be saved (the banner), or hide it (``""``)."""
        if message and not self.store_banner.styleSheet():
            # (not before: a style sheet makes Qt build a style sheet style and parse it,
            # which the first window, that has no trouble to show, need not wait for)
            self.store_banner.setStyleSheet(STORE_BANNER_STYLE)
        self.store_banner.setText(f"\u26a0 Jobdeck {message}" if message else "")
        self.store_banner.setVisible(bool(message))

    def show_job(self, job_id: str) -> bool:
        """Select ``job_id`` in the history (clearing filters that hide it) and show it."""
        if self.opening:  # (the store is not open yet: no job can be found)
            return False
        job = self._tracker.get_job(job_id)
        if job is None:
            self.statusBar().showMessage(
                translate("MainWindow", "No job {id}").format(id=job_id), 5000
            )
            return False
        if not self.model.filter.matches(job):
            self.clear_filter()
        row = self.model.locate(job)
        if row is None:  # e.g. queued a moment ago: the batched jobsAdded has not come yet
            row = self.model.include(job)
        if row is None:
            self.table.clearSelection()
        else:
            index = self.model.index(row, Column.TITLE)
            self.table.selectionModel().setCurrentIndex(
                index,
                QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows,
            )
            self.table.scrollTo(index)
        self.details.set_job(job)
        if self.isMinimized():
            self.showNormal()
        return True

    def show_active_jobs(self) -> None:
        """Filter the history to active jobs (pending and running), e.g. from "+N more"."""
        self.search_edit.blockSignals(True)
        self.search_edit.clear()
        self.search_edit.blockSignals(False)
        self.type_filter.blockSignals(True)
        self.type_filter.setCurrentIndex(0)
        self.type_filter.blockSignals(False)
        index = self.status_filter.findData(ACTIVE)
        if self.status_filter.currentIndex() == index:
            self.apply_filter()
        else:
            self.status_filter.setCurrentIndex(index)  # applies the filter
        if self.model.rowCount():
            self.table.selectRow(0)
            self.table.scrollToTop()

    def set_taskbar_visible(self, visible: bool) -> None:
        """Keep View > Show taskbar in step with the taskbar: checked while it is turned on
        (it read "Show/hide taskbar", whichever it was, as the tray's entry did)."""
        self._fill_menus()  # (the item is there from now on)
        self.toggle_taskbar_action.setChecked(visible)

    def dock_taskbar(self, taskbar: QWidget) -> QDockWidget:
        """Show ``taskbar`` (a :class:`~jobdeck.ui.taskbar.Taskbar` made with
        ``floating=False``) in a dock area at the bottom of this window; the dock widget."""
        QDockWidget = QtWidgets.QDockWidget  # (made, with its enums, when first used)
        dock = QDockWidget(translate("MainWindow", "Running jobs"), self)
        dock.setObjectName("jobsDock")
        dock.setAccessibleName(translate("MainWindow", "Running jobs"))
        # Movable and floatable, not closable: View > Show taskbar turns it off, and the
        # taskbar keeps that choice.
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        dock.setWidget(taskbar)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
        self.jobs_dock = dock
        return dock

    def show_statistics(self) -> StatsView | None:
        """Switch to the Statistics tab (building it the first time); its view."""
        if self.tabs is not None:
            self.tabs.setCurrentWidget(self._stats_page)
        return self.stats_view

    def _on_tab_changed(self, index: int) -> None:
        if self.tabs is None or self.tabs.widget(index) is not self._stats_page:
            return
        if self.stats_view is None and self._stats_factory is not None and not self.opening:
            from .stats_view import StatsView  # numpy, pyqtgraph: only when first shown

            self.stats_view = StatsView(self._stats_factory(), self._stats_page)
            self.stats_view.follow(self._signals)
            layout = self._stats_page.layout()
            assert layout is not None
            layout.addWidget(self.stats_view)
            self.stats_view.show()

    def select_job_type(self, name: str) -> LaunchForm:
        """Show the launch form of job type ``name``."""
        form = self.launch_forms[name]
        for row in range(self.type_list.count()):
            if self.type_list.item(row).data(Qt.ItemDataRole.UserRole) == name:
                self.type_list.setCurrentRow(row)
        return form

    def clear_filter(self) -> None:
        for widget in (self.status_filter, self.type_filter, self.search_edit):
            widget.blockSignals(True)
        self.status_filter.setCurrentIndex(0)
        self.type_filter.setCurrentIndex(0)
        self.search_edit.clear()
        for widget in (self.status_filter, self.type_filter, self.search_edit):
            widget.blockSignals(False)
        self.apply_filter()

    def apply_filter(self) -> None:
        """Re-query the history with the filter bar's values."""
        self._search_timer.stop()
        status = self.status_filter.currentData()
        job_type = self.type_filter.currentData()
        statuses: Any = ACTIVE_STATUSES if status == ACTIVE else status
        self.model.set_filter(
            status=None if status == ALL else statuses,
            type=None if job_type == ALL else job_type,
            search=self.search_edit.text(),
        )
        self.empty_history.update()  # (a search being read: nothing to say until it is in)

    # --- internals -------------------------------------------------------------------------

    def _add_clear_button(self) -> None:
        """Give the search field its clear button (shown over a typed text only), once.

        A window painted before the store is open gets it with the store (:meth:`attach`):
        the button's first use asks the style for its icon (~3 ms before the first paint),
        and an empty field does not show it."""
        if self.search_edit.isClearButtonEnabled():
            return
        self.search_edit.setClearButtonEnabled(True)
        for button in self.search_edit.findChildren(QtWidgets.QToolButton):  # clear button
            button.setAccessibleName(translate("MainWindow", "Clear the search"))

    def _on_search_edited(self, text: str) -> None:
        """Search soon after the last keystroke (see :data:`SEARCH_DELAY_MS`); a cleared
        search shows the whole history at once."""
        typed = len(text.strip())
        if not typed:
            self.apply_filter()
        else:
            indexed = typed >= MIN_INDEXED
            self._search_timer.start(SEARCH_DELAY_MS if indexed else SHORT_SEARCH_DELAY_MS)

    def _on_type_selected(self, row: int) -> None:
        if row >= 0:
            self.launch_forms.show(row)

    def _on_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        job = current.data(JobRole) if current.isValid() else None
        if job is not None and (self.details.job is None or self.details.job.id != job.id):
            self.details.set_job(self._tracker.get_job(job.id) or job)

    def _on_row_clicked(self, index: QModelIndex) -> None:
        """A click always shows the clicked row, even when it already was the current one."""
        job = index.data(JobRole) if index.isValid() else None
        if job is not None and (self.details.job is None or self.details.job.id != job.id):
            self.details.set_job(self._tracker.get_job(job.id) or job)

    def _size_columns(self, registry: Iterable[JobType]) -> None:
        """Columns as wide as their longest text ("Completed", "Cancelling…", a full date), so
        nothing there is elided; Title and Message share the rest, so the history needs
        no horizontal scrolling."""
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        metrics = self.table.fontMetrics()
        # (the icon size is set: asking the style makes PySide6 create QStyle's enums, ~10 ms
        # of the first window's start)
        icon = self.table.iconSize().width()
        pad = 24  # cell margins and the focus frame
        widest_status = max(
            (status_cell(s, cancelling) for s in JobStatus for cancelling in (False, True)),
            key=metrics.horizontalAdvance,
        )
        widest = {
            Column.STATUS: metrics.horizontalAdvance(widest_status) + icon + pad,
            Column.TYPE: max((metrics.horizontalAdvance(t.name) for t in registry), default=60)
            + pad,
            Column.PROGRESS: metrics.horizontalAdvance("100%") + pad,
            Column.STARTED: metrics.horizontalAdvance("30 May 14:03") + pad,
            Column.DURATION: metrics.horizontalAdvance("59m 59s") + pad,
        }
        for column, width in widest.items():
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            self.table.setColumnWidth(column, max(width, header.sectionSizeHint(column)))
        header.setSectionResizeMode(Column.TITLE, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(Column.MESSAGE, QHeaderView.ResizeMode.Stretch)

    def _build_menus(self) -> None:
        """The menu bar's menus; their items come from :meth:`_fill_menus`."""
        self._app_menu = self.menuBar().addMenu(translate("MainWindow", "&Jobdeck"))
        self._view_menu = self.menuBar().addMenu(translate("MainWindow", "&View"))
        self._menus_filled = False

    def _after_first_paint(self) -> None:
        """What the first paint of a window built before the store opened does without:
        the menus' items (:meth:`_fill_menus`) and the rows shown's watch. Once."""
        self._fill_menus()
        if self._rows_shown is None:
            self._rows_shown = RowsShown(self.table, self.model)

    def _fill_menus(self) -> None:
        """The menus' items and their shortcuts, once.

        A window painted before the store is open gets them right after its first paint
        (or :data:`MENU_ITEMS_FALLBACK_MS` after it was built, or when the store opens,
        whichever comes first): they show only when a menu opens, and the first shortcut
        makes PySide6 create Qt's key-sequence and action classes (~2-3 ms)."""
        if self._menus_filled:
            return
        self._menus_filled = True
        QKeySequence = QtGui.QKeySequence
        app_menu, view_menu = self._app_menu, self._view_menu
        settings = app_menu.addAction(translate("MainWindow", "&Settings\u2026"))
        # (the platform's key; none but on macOS and KDE: Ctrl+, as GNOME's programs have)
        preferences = QKeySequence.keyBindings(QKeySequence.StandardKey.Preferences)
        settings.setShortcuts(preferences or [QKeySequence("Ctrl+,")])
        settings.triggered.connect(self.settingsRequested)
        app_menu.addSeparator()
        quit_action = app_menu.addAction(translate("MainWindow", "&Quit"))
        quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        quit_action.triggered.connect(self.quitRequested)
        #: A check box, checked while the taskbar is on (see :meth:`set_taskbar_visible`).
        self.toggle_taskbar_action = taskbar = view_menu.addAction(
            translate("MainWindow", "Show &taskbar")
        )
        taskbar.setCheckable(True)
        taskbar.setChecked(True)
        taskbar.setShortcut(QKeySequence("Ctrl+T"))
        taskbar.triggered.connect(self.toggleTaskbarRequested)
        focus_taskbar = view_menu.addAction(translate("MainWindow", "&Go to the taskbar"))
        focus_taskbar.setShortcut(QKeySequence("Ctrl+Shift+T"))
        focus_taskbar.triggered.connect(self.focusTaskbarRequested)
        refresh = view_menu.addAction(translate("MainWindow", "&Refresh history"))
        refresh.setShortcut(QKeySequence.StandardKey.Refresh)
        refresh.triggered.connect(self.model.refresh)

    def _fit_to_screen(self) -> None:
        """A default size that fits the screen: at most 1400x820, at most 92% of it."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is None:
            self.resize(1400, 820)
            return
        area = screen.availableGeometry()
        width = min(1400, int(area.width() * 0.92))
        height = min(820, int(area.height() * 0.92))
        self.resize(width, height)
        self.move(area.x() + (area.width() - width) // 2, area.y() + (area.height() - height) // 2)
        launcher = max(300, width * 2 // 7)
        self.splitter.setSizes([launcher, max(400, width - launcher)])
        # the details get the larger share: their log shows at least a dozen lines
        self.right_splitter.setSizes([height * 9 // 20, height * 11 // 20])

    def _restore_state(self) -> None:
        if self._settings is None:
            return
        geometry = self._settings.value("main_window/geometry", None)
        if isinstance(geometry, QByteArray | bytes):
            self.restoreGeometry(QByteArray(geometry))
        sizes = self._settings.value("main_window/splitter", None)
        if isinstance(sizes, QByteArray | bytes):
            self.splitter.restoreState(QByteArray(sizes))
        right = self._settings.value("main_window/right_splitter", None)
        if isinstance(right, QByteArray | bytes):
            self.right_splitter.restoreState(QByteArray(right))

    def _paint_icons(self) -> None:
        """(Re)draw the icons of the type list and the status filter in the palette's
        colours; the history and the panes repaint their own."""
        for row in range(self.type_list.count()):
            item = self.type_list.item(row)
            item.setIcon(icons.icon(item.data(ICON_ROLE), icons.foreground(self)))
        for index in range(self.status_filter.count()):
            value = self.status_filter.itemData(index)
            if value != ALL:
                name = "running" if value == ACTIVE else str(value)
                self.status_filter.setItemIcon(index, icons.status_icon(name))

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._paint_icons()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.model.set_ticking(True)
        self.details.set_ticking(True)

    def hideEvent(self, event: QHideEvent) -> None:
        """Hidden (in the tray, or minimized): no timer wakes the app for the history."""
        super().hideEvent(event)
        self.model.set_ticking(False)
        self.details.set_ticking(False)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._settings is not None:
            self._settings.setValue("main_window/geometry", self.saveGeometry())
            self._settings.setValue("main_window/splitter", self.splitter.saveState())
            self._settings.setValue("main_window/right_splitter", self.right_splitter.saveState())
        super().closeEvent(event)

<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1">
<context>
    <name>Duration</name>
    <message>
        <source>{seconds}s</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{minutes}m {seconds}s</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{hours}h {minutes}m</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{days}d {hours}h</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>~{seconds} s</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>~{minutes} min</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>~{hours} h</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{seconds} s</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{minutes} min</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{hours} h {minutes} min</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>EmptyHistory</name>
    <message>
        <source>No jobs match “{text}”.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Clear the search and the filters to see all jobs.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Clear the search to see all jobs.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>No jobs match these filters.
Choose All statuses and All types to see all jobs.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>No jobs yet.
Start one from the form on the left, or run
jobdeck run -- COMMAND
in a terminal.</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>HistoryModel</name>
    <message>
        <source>Status</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Title</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Type</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Progress</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Started</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Duration</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Message</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cancelling…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Start time (sorting by this column sorts by creation order)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Created {created}
Started {started}</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>JobDetails</name>
    <message>
        <source>ID:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Type:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Created:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Started:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Finished:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Duration:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Attempts:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Runs on:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Process:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Resources:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Log file:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>peak {size} MB</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>peak {size} kB</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>CPU {seconds} s</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Working (total unknown)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Waiting to start</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Done</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Stopped at {progress}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Stopped</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Run again</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Open log</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cancel this job</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Queue a new job with the same parameters</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>About the job</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Facts about the job</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Job log</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Job parameters</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Job result</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Details (traceback)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Traceback</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Log</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Output</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Details</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Parameters</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Error</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Result</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Timeline charts</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Timeline</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Select a job to see its details.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Could not run again: {reason}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>No output: the program printed nothing.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>This job has no log file; its messages are in the Log tab.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>This job has no log file; the Error tab says what went wrong.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>This job has no log file and logged nothing.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The log file is gone: {path}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>No program could open {path}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>None (no output)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>No log lines. The program&apos;s output is on the Output tab.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>No log lines yet.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>This job logged nothing.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{status} — cancelling…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{id} (re-run of {original})</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{attempts} of {max_attempts}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>pid {pid}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>exit code {code}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Dask worker {address} on {host}, pid {pid}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>This job has no log file</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>JobRow</name>
    <message>
        <source>Done: {message}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Done</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Failed: {reason}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Failed</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cancelled</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cancel job?</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cancel “{title}”?</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The job is asked to stop; this cannot be undone.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cancel job</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Keep running</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cancel this job</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cancelling…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Waiting to start…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>queued</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Starts at {time}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>on {host} via {instance}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>on {host}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>slower than usual</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>longer than usual</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{duration}, usually</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>re-estimating…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{duration} left</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Usually takes {duration} (%n earlier run(s))</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>no progress for {duration}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{status} (cancel requested)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cancel {title}</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>JobStatus</name>
    <message>
        <source>Pending</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Running</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Completed</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Failed</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cancelled</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>JobType</name>
    <message>
        <source>Run a Python script</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Copy files</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Checksum a folder</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Compress a folder</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Wait / countdown</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The folder to compress</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Archive path; empty: next to the folder</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>A file or a folder</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Also write &lt;algorithm&gt;sums.txt in the folder (sha256sum -c format)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Run a command</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Command</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The program and its arguments (with Shell: one command line).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Working directory</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Where the program runs; empty: your home folder.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Environment</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Variables set for the program, on top of the current environment.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Shell</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Run the command line through /bin/sh (pipes, globs, &amp;&amp;).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Job data</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Handed to the program as JSON in JOBDECK_JOB_DATA.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Run an external program; its output goes to the job&apos;s log file.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>How long to wait</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Shown while waiting</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>A file or a folder to copy</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The folder to copy into</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Replace files that already exist</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The .py file to run</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Command-line arguments, one per line</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Where it runs; empty: the script&apos;s folder</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>JobWarnings</name>
    <message>
        <source>slower than usual (usually {duration})</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>stalled — {what}</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>JobdeckApp</name>
    <message>
        <source>Jobdeck is still running</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>It keeps watching your jobs from the tray. Click the tray icon to open the window again; choose Quit from its menu to quit.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Jobdeck</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Jobdeck already runs on this history but does not answer.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Jobdeck cannot open its job history.</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>LaunchForm</name>
    <message>
        <source>{type} (optional title)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Job title</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Title:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{label}:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Start</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Queue the job (Ctrl+Return)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Queue a {type} job</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Parameters of {type}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Not started: {field}: {problem}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Not started: {problem}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Queued {title}</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>Jobdeck</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Job types</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Launch</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Show jobs with status</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Show jobs with this status</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>All statuses</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Active</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Pending and running jobs</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Show jobs of type</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Show jobs of this type</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>All types</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Search titles, messages, commands…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Search job titles</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Clear the search</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Job history</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Jobs</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Statistics</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Opening history…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Ready</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>No job {id}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Running jobs</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Jobdeck</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Settings…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;View</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Show &amp;taskbar</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Go to the taskbar</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Refresh history</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>Notifier</name>
    <message>
        <source>Open</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Retry</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>OutputView</name>
    <message>
        <source>Program output</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>No output: the program printed nothing.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>This job has no output file.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>No output yet: {path}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The output file is gone: {path}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The program printed nothing.</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>ParamField</name>
    <message>
        <source>Browse…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Choose {label}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>expected an integer, got {text}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>expected a number, got {text}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>expected true or false, got {text}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>One item per line</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>program --option &quot;an argument&quot;</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>cannot split the command line: {error}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Name</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Value</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Add</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Remove</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Add a row to {label}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Remove the selected rows of {label}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>row {row} has a value but no name</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{name} appears twice</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>Progress</name>
    <message>
        <source>{percent} ({current} of {total})</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>QuitDialog</name>
    <message>
        <source>Quit Jobdeck?</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Quit</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Keep running in the background and quit</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Stay</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cancel it and quit</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cancel them and quit</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Keep it queued and quit</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Keep them queued and quit</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>No job is running; 1 is queued.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>No job is running; {count} are queued.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>All jobs have finished.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>External programs can keep running in the background; Jobdeck picks them up again when it next starts.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The other running job is cancelled either way.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The other {count} running jobs are cancelled either way.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Keep it queued to start it when Jobdeck runs again, or cancel it.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Keep them queued to start them when Jobdeck runs again, or cancel them.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The queued job stays queued and starts when Jobdeck runs again.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The {count} queued jobs stay queued and start when Jobdeck runs again.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Other Jobdeck instances on the board may start them meanwhile.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Nothing is running or queued: quitting stops nothing.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>1 job is still running.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{count} jobs are still running.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>1 more is queued.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{count} more are queued.</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>SettingsDialog</name>
    <message>
        <source>{text!r} is not a Dask scheduler address: write it like tcp://scheduler:8786 (or leave it empty to run such jobs here)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Never</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>While any job runs</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>While a long job runs</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Bottom right</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Bottom left</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Top right</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Top left</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Jobdeck settings</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>How many jobs may run at the same time</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Keep all</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source> days</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Finished jobs older than this are deleted at start-up</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Notify when a job fails or a long job ends</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source> s</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>A completed job is announced if it ran at least this long</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>How long a finished job&apos;s row stays in the taskbar; with nothing running, the taskbar hides after that</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Always show the taskbar, even when nothing runs</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Animate the tray icon</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>While a job of unknown length runs, the tray icon&apos;s ring turns (a few frames a second); off, it shows a still ring</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>A running job with no progress and no output for this long is shown as stalled, and you are told once (job types may set their own time)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Stalled after minutes without progress</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Keep the computer from going to sleep while jobs run</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Announce jobs longer than:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Announce jobs longer than</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Stay awake for jobs longer than</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source> min</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>A job counts as long once it has run this long</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Off</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Serve the API and the browser board on http://127.0.0.1:&lt;port&gt; too (every request needs the token); off, only this user&apos;s programs reach it through its socket. Applies at the next start.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Browser board port</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>tcp://scheduler:8786 (empty: run them here)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Job types that ask for Dask run on this scheduler&apos;s cluster; empty, they run on this computer. Applies at the next start (--dask wins for one launch).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Dask scheduler</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Jobs at once:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Keep history:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Taskbar corner:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Keep finished rows:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Stalled after:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Stay awake:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Stay awake for jobs longer than:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Browser board port:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Dask scheduler:</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>SleepInhibitor</name>
    <message>
        <source>Jobs are running</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>Stats</name>
    <message>
        <source>Jobs ended</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>jobs</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Queued and running</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Duration of the selected key&apos;s last runs</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>seconds</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Jobs ended per hour or day</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Queued and running jobs over time</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Duration of the last runs</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>completed</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>failed</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>cancelled</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Ended per hour</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Ended per UTC day</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>queued</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>running</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Most at once</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Select a job key to see the duration of its last runs</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The last run of {key}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Last {n} runs of {key}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Job key</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Type</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Runs</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Success</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Failed</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cancelled</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>p50</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>p90</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Max</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Peak RSS</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>CPU / run</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Completed runs out of completed and failed ones</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Half of the completed runs took at most this long</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Nine in ten completed runs took at most this long</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The longest completed run</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The most memory a run&apos;s processes used (process jobs still stored)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>CPU time per run (process jobs still stored)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>First line of the error</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Last</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Last 24 hours</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Last 7 days</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Last 30 days</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>All time</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Period</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Period:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Refresh</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Summary</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Statistics per job type</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Statistics per job key</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Failures by first line</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Per type</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Per job key</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Failures</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Reading the job history…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Computing…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{runs} jobs ended, {failed} failed</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>the {shown} busiest of {total} job keys</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{rolled} from the roll-up of deleted jobs</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>updated {time}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Durations are those of completed runs; p50 and p90 are read from a histogram (within about 10 %). Peak RSS and CPU time are known only for process jobs still stored.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Statistics unavailable: {why}</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>Taskbar</name>
    <message>
        <source>No active jobs</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%n job(s) ended</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%n job(s)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>, {ended} ended</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>, {queued} queued</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Jobdeck jobs</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Collapse to a summary line</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Collapse the job list</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Running jobs</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Show all active jobs in the main window</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Nothing running</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Show all jobs</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Expand the job list</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>+{count} more…</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>TimelinePlot</name>
    <message>
        <source>s</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>min</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>h</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Progress over time</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Memory and CPU use over time</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Memory (resident, MB: green, left axis) and CPU use (%, 100 % is one core busy: orange, right axis) of the program and its child processes</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>No progress recorded yet.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>progress %</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>MB</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>CPU %</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>time ({unit})</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>TrayController</name>
    <message>
        <source>{names} and {count} more</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{running} running (asked to stop), {queued} queued.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>This cannot be undone.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Jobdeck</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Show window</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Quit</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Show taskbar</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cancel all jobs?</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cancel %n job(s)?</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cancel jobs</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Keep them</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cancel all…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Jobdeck — idle</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Jobdeck — {running} running, {pending} pending</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Jobdeck — {running} running</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>busy</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>+{count} more</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%n job(s) finished</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{finished}, {failed} failed</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Failed: {names}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Done: {names}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>no reason given</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Failed: {title}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Finished after {duration}: {message}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Finished after {duration}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Done: {title}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Stalled: {title}</source>
        <translation type="unfinished"></translation>
    </message>
</context>
</TS>

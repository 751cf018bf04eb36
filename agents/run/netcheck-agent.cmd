@echo off
rem Run the netcheck agent zipapp on a Windows host (configuration server, process
rem server, Windows master target) by hand. The SSH transport does the same itself
rem through Windows' OpenSSH server: it uploads netcheck-agent-<hash>.pyz to
rem %USERPROFILE%\.netcheck\ and runs it with the topology's agent.python, e.g.
rem   agent: {transport: ssh, user: netcheck, python: 'C:\Python311\python.exe'}
rem
rem   netcheck-agent.cmd [PATH\TO\netcheck-agent-*.pyz] [--max-seconds N]
rem
rem Uses the Python launcher (py -3) when present, else python.exe on PATH.
setlocal
set "PYZ=%~1"
if /I "%~x1"==".pyz" (shift) else (
  set "PYZ="
  for %%F in ("%~dp0netcheck-agent-*.pyz" "%USERPROFILE%\.netcheck\netcheck-agent-*.pyz") do set "PYZ=%%~fF"
)
if "%PYZ%"=="" (
  echo netcheck-agent.cmd: no netcheck-agent-*.pyz found; build one with "netcheck agent build" 1>&2
  exit /b 2
)
where py >nul 2>nul
if %ERRORLEVEL%==0 (
  py -3 "%PYZ%" %1 %2 %3 %4
) else (
  python.exe "%PYZ%" %1 %2 %3 %4
)
exit /b %ERRORLEVEL%

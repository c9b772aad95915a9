<#
.SYNOPSIS
    Runs the RpcLab scenarios: real registry, server and client processes, one injected fault each,
    a narrated timeline and a PASS/FAIL verdict per scenario.

.DESCRIPTION
    A thin wrapper around the Lab.Scenarios runner: it builds the solution's programs once, then runs
    the runner and returns its exit code (the number of failed scenarios). Without PowerShell, the
    same runner is reachable as: dotnet run --project Lab.Scenarios -- [names] [--list] ...

.EXAMPLE
    ./run-scenarios.ps1 -List
.EXAMPLE
    ./run-scenarios.ps1 happy-path
.EXAMPLE
    ./run-scenarios.ps1 graceful-stop server-killed-failover -Report grading/run1.md
.EXAMPLE
    ./run-scenarios.ps1                  # all of them, several at once
.EXAMPLE
    ./run-scenarios.ps1 -Parallel 1      # all of them, one after another, narrated as they happen
.EXAMPLE
    ./run-scenarios.ps1 -ServerCommand 'python3 {cwd}/server.py -l {host} -p {port}' -Rubric Lab.Scenarios/rubric.ini
    # grades another implementation's server; placeholders: {host} {port} {registry_host}
    # {registry_port} {config} {workdir} {cwd} {mode}; it starts in {workdir}, so give paths
    # from {cwd} or absolute ones
#>
[CmdletBinding()]
param(
    # Scenarios to run, by name (see -List). None = all of them.
    [Parameter(Position = 0, ValueFromRemainingArguments = $true)]
    [string[]] $Scenario = @(),

    # List the scenarios (name, then what it demonstrates) and exit.
    [switch] $List,

    # INI file overriding the scenario timings (same sections and keys as config.ini).
    [string] $Config,

    # Markdown report path; a .json twin is written next to it. Default: scenario-reports/scenarios-<time>.md
    [string] $Report,

    # Seconds one scenario may take before it is stopped and counted as FAIL.
    [double] $Timeout = 0,

    # How many scenarios run at once, each isolated; 1 = one after another. 0 = the runner's default for this machine.
    [int] $Parallel = 0,

    # INI file of points per scenario: the summary and the report end with the score.
    [string] $Rubric,

    # Grade another implementation's registry: a command template run instead of Lab.Registry.
    [string] $RegistryCommand,

    # Grade another implementation's server: a command template run instead of Lab.Server.
    [string] $ServerCommand,

    # Grade another implementation's client: a command template run instead of Lab.ClientApp.
    [string] $ClientCommand,

    # Build configuration of the programs to run.
    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Debug',

    # Run the programs as last built, without building first (after a dotnet build of your own).
    [switch] $NoBuild
)

$ErrorActionPreference = 'Stop'
$project = Join-Path $PSScriptRoot 'Lab.Scenarios/Lab.Scenarios.csproj'

# Building the runner builds the registry, server and client too (project references), once.
if (-not $NoBuild) {
    & dotnet build $project --configuration $Configuration --nologo --verbosity quiet
    if ($LASTEXITCODE -ne 0) {
        Write-Host "run-scenarios: the build failed (exit code $LASTEXITCODE)"
        exit $LASTEXITCODE
    }
}

$runnerArguments = @(Join-Path $PSScriptRoot "Lab.Scenarios/bin/$Configuration/net10.0/Lab.Scenarios.dll")
if ($List) { $runnerArguments += '--list' }
if ($Config) { $runnerArguments += @('--config', $Config) }
if ($Report) { $runnerArguments += @('--report', $Report) }
if ($Timeout -gt 0) { $runnerArguments += @('--timeout', $Timeout.ToString([System.Globalization.CultureInfo]::InvariantCulture)) }
if ($Parallel -gt 0) { $runnerArguments += @('--parallel', $Parallel.ToString([System.Globalization.CultureInfo]::InvariantCulture)) }
if ($Rubric) { $runnerArguments += @('--rubric', $Rubric) }
if ($RegistryCommand) { $runnerArguments += @('--registry-command', $RegistryCommand) }
if ($ServerCommand) { $runnerArguments += @('--server-command', $ServerCommand) }
if ($ClientCommand) { $runnerArguments += @('--client-command', $ClientCommand) }
$runnerArguments += $Scenario

& dotnet @runnerArguments
exit $LASTEXITCODE

# sphere-stig collector: host_facts schema 1
#
# Gathers every Windows fact the ISEC7 Sphere STIG checks need in one WinRM
# round trip and prints one JSON document (schema: docs/architecture.md).
# It only reads; nothing on the host changes. Windows PowerShell 5.1.
#
# The collector puts $SphereRoot, $ShutdownPort and $TrapPorts after this
# header line.
# It also drops comment lines and indentation before sending, to stay below
# the 32767-character command line, so this file holds no here-strings and
# no line whose meaning depends on its indentation.

$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$invariant = [Globalization.CultureInfo]::InvariantCulture
# Quoted separators: an unquoted ':' in a format string is the culture's
# time separator, which is not ':' everywhere.
$isoFormat = "yyyy'-'MM'-'dd'T'HH':'mm':'ss'Z'"
$warnings = New-Object 'System.Collections.Generic.List[string]'

function Add-Warning([string]$Section, $Record) {
    $warnings.Add(('{0}: {1}' -f $Section, $Record.Exception.GetBaseException().Message))
}

# Must match sphere_stig.facts.SPHERE_FILES (a unit test compares them).
$fileTable = [ordered]@{
    server_xml          = 'Tomcat\conf\server.xml'
    tomcat_web_xml      = 'Tomcat\conf\web.xml'
    tomcat_users_xml    = 'Tomcat\conf\tomcat-users.xml'
    catalina_properties = 'Tomcat\conf\catalina.properties'
    sphere_web_xml      = 'web\WEB-INF\web.xml'
    config_properties   = 'conf\config.properties'
}

# Files travel as base64 of their raw bytes, so BOMs and UTF-16 survive.
# [IO.Path]::Combine, unlike Join-Path, does not insist the drive exists.
$files = [ordered]@{}
foreach ($key in $fileTable.Keys) {
    $path = [IO.Path]::Combine($SphereRoot, $fileTable[$key])
    $entry = [ordered]@{ path = $path; exists = $false; b64 = $null; error = $null }
    try {
        $bytes = [IO.File]::ReadAllBytes($path)
        $entry.exists = $true
        $entry.b64 = [Convert]::ToBase64String($bytes)
    } catch {
        $cause = $_.Exception.GetBaseException()
        if (-not ($cause -is [IO.FileNotFoundException] -or $cause -is [IO.DirectoryNotFoundException])) {
            $entry.exists = $true
            $entry.error = $cause.Message
        }
    }
    $files[$key] = $entry
}

$webappsPath = [IO.Path]::Combine($SphereRoot, 'Tomcat\webapps')
$webapps = [ordered]@{ path = $webappsPath; exists = $false; entries = @() }
try {
    if ([IO.Directory]::Exists($webappsPath)) {
        $webapps.exists = $true
        $names = [IO.Directory]::GetFileSystemEntries($webappsPath) | ForEach-Object { [IO.Path]::GetFileName($_) }
        $webapps.entries = @($names | Sort-Object)
    }
} catch { Add-Warning 'webapps' $_ }

$acl = $null
if ($files['server_xml'].exists) {
    try {
        $acl = @((Get-Acl -LiteralPath $files['server_xml'].path).Access | ForEach-Object {
            [ordered]@{
                identity  = [string]$_.IdentityReference.Value
                rights    = [string]$_.FileSystemRights
                access    = [string]$_.AccessControlType
                inherited = [bool]$_.IsInherited
            }
        })
    } catch { Add-Warning 'server_xml_acl' $_ }
}

$rootStore = @()
try {
    $rootStore = @(Get-ChildItem -Path 'Cert:\LocalMachine\Root' | ForEach-Object {
        [ordered]@{
            subject    = [string]$_.Subject
            issuer     = [string]$_.Issuer
            thumbprint = [string]$_.Thumbprint
            not_after  = $_.NotAfter.ToUniversalTime().ToString($isoFormat, $invariant)
        }
    })
} catch { Add-Warning 'root_store' $_ }

# The Tomcat service is the one whose executable sits in Tomcat\bin; its
# name is not fixed. Procrun keeps the Java options (tomcat9w.exe, Java tab)
# under WOW6432Node, or in the 64-bit view on some installs.
$service = $null
$tomcatBin = [IO.Path]::Combine($SphereRoot, 'Tomcat\bin') + '\'
try {
    $candidates = @(Get-CimInstance -ClassName Win32_Service | Where-Object {
        $_.PathName -and $_.PathName.TrimStart('"').StartsWith($tomcatBin, [StringComparison]::OrdinalIgnoreCase)
    } | Sort-Object -Property Name)
    if ($candidates.Count -eq 0) {
        $warnings.Add("tomcat_service: no service runs from $tomcatBin")
    } else {
        if ($candidates.Count -gt 1) {
            $warnings.Add(('tomcat_service: several services run from {0}: {1}' -f $tomcatBin, (($candidates | ForEach-Object { $_.Name }) -join ', ')))
        }
        $svc = $candidates[0]
        $registryKey = ''
        $options = @()
        foreach ($base in 'SOFTWARE\WOW6432Node\', 'SOFTWARE\') {
            $key = $base + 'Apache Software Foundation\Procrun 2.0\' + $svc.Name + '\Parameters\Java'
            if (Test-Path -LiteralPath ('HKLM:\' + $key)) {
                $values = Get-ItemProperty -LiteralPath ('HKLM:\' + $key)
                foreach ($name in 'Options', 'Options9') {
                    if ($null -ne $values.$name) { $options += @($values.$name | ForEach-Object { [string]$_ }) }
                }
                $registryKey = 'HKLM\' + $key
                break
            }
        }
        if (-not $registryKey) { $warnings.Add("tomcat_service: no Procrun Java key for service $($svc.Name)") }
        $service = [ordered]@{
            name          = [string]$svc.Name
            display_name  = [string]$svc.DisplayName
            path          = [string]$svc.PathName
            state         = [string]$svc.State
            registry_key  = $registryKey
            java_options  = @($options)
        }
    }
} catch { Add-Warning 'tomcat_service' $_ }

# Tomcat's shutdown port binds to localhost, so only the host can see it.
$listeners = @()
if ($ShutdownPort -gt 0) {
    try {
        $listeners = @(Get-NetTCPConnection -State Listen -LocalPort $ShutdownPort -ErrorAction SilentlyContinue | ForEach-Object {
            $process = Get-Process -Id $_.OwningProcess -ErrorAction SilentlyContinue
            $processName = ''
            if ($process) { $processName = [string]$process.ProcessName }
            [ordered]@{ address = [string]$_.LocalAddress; port = [int]$_.LocalPort; process = $processName }
        })
    } catch { Add-Warning 'listeners' $_ }
}

# The Monitor receives SNMP traps on UDP; a datagram gets no answer, so only
# the host can say whether anything is bound to the port.
$udpListeners = @()
try {
    $udpListeners = @($TrapPorts | ForEach-Object {
        Get-NetUDPEndpoint -LocalPort $_ -ErrorAction SilentlyContinue
    } | ForEach-Object {
        $process = Get-Process -Id $_.OwningProcess -ErrorAction SilentlyContinue
        $processName = ''
        if ($process) { $processName = [string]$process.ProcessName }
        [ordered]@{ address = [string]$_.LocalAddress; port = [int]$_.LocalPort; process = $processName }
    })
} catch { Add-Warning 'udp_listeners' $_ }

$version = $null
try {
    $uninstall = 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\*', 'HKLM:\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall\*'
    $products = @(Get-ItemProperty -Path $uninstall -ErrorAction SilentlyContinue | Where-Object {
        $_.DisplayName -like 'ISEC7*' -and $_.DisplayVersion
    })
    $sphere = @($products | Where-Object { $_.DisplayName -like '*SPHERE*' })
    if ($sphere.Count -eq 0) { $sphere = $products }
    $sphere = @($sphere | Sort-Object -Property DisplayName)
    if ($sphere.Count -gt 0) {
        $version = [string]$sphere[0].DisplayVersion
        if ($sphere.Count -gt 1) {
            $warnings.Add('sphere_version: several ISEC7 products installed: ' + (($sphere | ForEach-Object { '{0} {1}' -f $_.DisplayName, $_.DisplayVersion }) -join '; '))
        }
    }
} catch { Add-Warning 'sphere_version' $_ }

# Groups are found by their well-known SIDs, because their names are
# translated on non-English Windows; ADSI also lists members whose account
# no longer resolves, where Get-LocalGroupMember fails.
$groups = [ordered]@{}
$groupSids = [ordered]@{ 'Distributed COM Users' = 'S-1-5-32-562'; 'Performance Monitor Users' = 'S-1-5-32-558' }
foreach ($label in $groupSids.Keys) {
    $groups[$label] = @()
    try {
        $sid = New-Object System.Security.Principal.SecurityIdentifier($groupSids[$label])
        $localName = $sid.Translate([System.Security.Principal.NTAccount]).Value.Split('\')[-1]
        $group = [ADSI]('WinNT://{0}/{1},group' -f $env:COMPUTERNAME, $localName)
        $groups[$label] = @($group.Invoke('Members') | ForEach-Object {
            $adsPath = [string]$_.GetType().InvokeMember('ADsPath', 'GetProperty', $null, $_, $null)
            $parts = $adsPath.Substring('WinNT://'.Length).Split('/')
            if ($parts.Count -ge 2) { $parts[-2] + '\' + $parts[-1] } else { $parts[-1] }
        })
    } catch { Add-Warning "local_groups $label" $_ }
}

$result = [ordered]@{
    schema         = 1
    computer_name  = [string]$env:COMPUTERNAME
    sphere_root    = $SphereRoot
    files          = $files
    webapps        = $webapps
    server_xml_acl = $acl
    root_store     = $rootStore
    tomcat_service = $service
    listeners      = $listeners
    udp_listeners  = $udpListeners
    sphere_version = $version
    local_groups   = $groups
    warnings       = @($warnings.ToArray())
}

# Every non-ASCII character leaves as a \uXXXX escape, so the output
# survives whatever code page the WinRM shell uses.
$json = ConvertTo-Json -InputObject $result -Depth 6 -Compress
[regex]::Replace($json, '[^\x00-\x7F]', { param($m) '\u{0:x4}' -f [int][char]$m.Value })

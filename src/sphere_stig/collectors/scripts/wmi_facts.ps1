# sphere-stig collector: wmi_facts schema 1
#
# Reads what a remote Sphere agent's WMI service account needs on a host it
# monitors (STIG overview, remote WMI): the members of the local groups
# Distributed COM Users and Performance Monitor Users, and the security
# descriptors of the root/cimv2 namespace and of the namespaces below it.
# It prints one JSON document and changes nothing. Windows PowerShell 5.1.
#
# The collector puts $AgentAccount (DOMAIN\name, or '' when the inventory
# names none) after this header line, then drops comment lines and
# indentation as it does for host_facts.ps1, so the same rules apply: no
# here-strings, no line whose meaning depends on its indentation.

$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$warnings = New-Object 'System.Collections.Generic.List[string]'
# Namespaces below root/cimv2 deeper than this are not read: two levels
# reach root/cimv2/Security/MicrosoftTpm.
$maxDepth = 2

function Add-Warning([string]$Section, $Record) {
    $warnings.Add(('{0}: {1}' -f $Section, $Record.Exception.GetBaseException().Message))
}

# The account's SID lets the checks match it in group lists and in ACEs
# whatever spelling of its name they carry.
$account = [ordered]@{ name = $AgentAccount; sid = $null; error = $null }
if ($AgentAccount) {
    try {
        $account.sid = (New-Object System.Security.Principal.NTAccount($AgentAccount)).Translate([System.Security.Principal.SecurityIdentifier]).Value
    } catch {
        $account.error = $_.Exception.GetBaseException().Message
    }
}

# Groups are found by their well-known SIDs, because their names are
# translated on non-English Windows. ADSI also lists members whose account
# no longer resolves, where Get-LocalGroupMember fails.
$groups = [ordered]@{}
$groupSids = [ordered]@{ 'Distributed COM Users' = 'S-1-5-32-562'; 'Performance Monitor Users' = 'S-1-5-32-558' }
foreach ($label in $groupSids.Keys) {
    $entry = [ordered]@{ sid = $groupSids[$label]; members = @(); error = $null }
    try {
        $sid = New-Object System.Security.Principal.SecurityIdentifier($groupSids[$label])
        $localName = $sid.Translate([System.Security.Principal.NTAccount]).Value.Split('\')[-1]
        $group = [ADSI]('WinNT://{0}/{1},group' -f $env:COMPUTERNAME, $localName)
        $entry.members = @($group.Invoke('Members') | ForEach-Object {
            $adsPath = [string]$_.GetType().InvokeMember('ADsPath', 'GetProperty', $null, $_, $null)
            $parts = $adsPath.Substring('WinNT://'.Length).Split('/')
            $name = if ($parts.Count -ge 2) { $parts[-2] + '\' + $parts[-1] } else { $parts[-1] }
            $memberSid = $null
            try {
                $bytes = [byte[]]$_.GetType().InvokeMember('objectSid', 'GetProperty', $null, $_, $null)
                $memberSid = (New-Object System.Security.Principal.SecurityIdentifier($bytes, 0)).Value
            } catch { }
            [ordered]@{ name = $name; sid = $memberSid }
        })
    } catch {
        $entry.error = $_.Exception.GetBaseException().Message
    }
    $groups[$label] = $entry
}

# A namespace's security is read from its __SystemSecurity object and turned
# into SDDL by Win32_SecurityDescriptorHelper, as wmimgmt.msc shows it.
$helper = $null
try {
    $helper = New-Object System.Management.ManagementClass('root\cimv2:Win32_SecurityDescriptorHelper')
} catch { Add-Warning 'Win32_SecurityDescriptorHelper' $_ }
function Get-NamespaceSddl([string]$Namespace) {
    $result = [ordered]@{ path = $Namespace; sddl = $null; error = $null }
    try {
        if ($null -eq $helper) { throw 'Win32_SecurityDescriptorHelper is not available' }
        $read = Invoke-WmiMethod -Namespace $Namespace -Path '__SystemSecurity=@' -Name GetSecurityDescriptor
        if ($read.ReturnValue -ne 0) { throw ('GetSecurityDescriptor returned {0}' -f $read.ReturnValue) }
        $converted = $helper.Win32SDToSDDL($read.Descriptor)
        if ($converted.ReturnValue -ne 0) { throw ('Win32SDToSDDL returned {0}' -f $converted.ReturnValue) }
        $result.sddl = [string]$converted.SDDL
    } catch {
        $result.error = $_.Exception.GetBaseException().Message
    }
    $result
}

$namespaces = New-Object 'System.Collections.Generic.List[object]'
$pending = New-Object 'System.Collections.Generic.Queue[object]'
$pending.Enqueue(@('root/cimv2', 0))
while ($pending.Count -gt 0) {
    $item = $pending.Dequeue()
    $namespaces.Add((Get-NamespaceSddl $item[0]))
    if ($item[1] -ge $maxDepth) { continue }
    try {
        $children = @(Get-WmiObject -Namespace $item[0] -Class __NAMESPACE | ForEach-Object { [string]$_.Name } | Sort-Object)
        foreach ($child in $children) { $pending.Enqueue(@(($item[0] + '/' + $child), ($item[1] + 1))) }
    } catch { Add-Warning "namespaces below $($item[0])" $_ }
}

# Names of the SIDs the descriptors grant to, for evidence a person can read
# and for matching by name when the account's SID is unknown.
$sidNames = [ordered]@{}
foreach ($namespace in $namespaces) {
    if (-not $namespace.sddl) { continue }
    foreach ($match in [regex]::Matches($namespace.sddl, 'S-1-[0-9-]+')) {
        $value = $match.Value
        if ($sidNames.Contains($value)) { continue }
        try {
            $sidNames[$value] = (New-Object System.Security.Principal.SecurityIdentifier($value)).Translate([System.Security.Principal.NTAccount]).Value
        } catch {
            $sidNames[$value] = $null
        }
    }
}

$result = [ordered]@{
    schema        = 1
    computer_name = [string]$env:COMPUTERNAME
    account       = $account
    local_groups  = $groups
    namespaces    = @($namespaces.ToArray())
    sid_names     = $sidNames
    warnings      = @($warnings.ToArray())
}

# Every non-ASCII character leaves as a \uXXXX escape, so the output
# survives whatever code page the WinRM shell uses.
$json = ConvertTo-Json -InputObject $result -Depth 6 -Compress
[regex]::Replace($json, '[^\x00-\x7F]', { param($m) '\u{0:x4}' -f [int][char]$m.Value })

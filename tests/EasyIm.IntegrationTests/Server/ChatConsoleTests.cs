using System.Diagnostics;
using System.Text;
using EasyIm.IntegrationTests.Telemetry;

namespace EasyIm.IntegrationTests.Server;

/// <summary>The console client (<c>easyim-chat</c>) as two people use it: two processes, typing and reading lines, against a running server.</summary>
public sealed class ChatConsoleTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Two_terminals_register_become_friends_chat_see_receipts_and_talk_in_a_group()
    {
        await using var server = await ServerProcesses.StandaloneAsync();
        var alice = "alice_" + Guid.NewGuid().ToString("N")[..8];
        var bob = "bob_" + Guid.NewGuid().ToString("N")[..8];
        await using var a = ChatProcess.Start(server, "--account", alice, "--password", "secret-1", "--register");
        await using var b = ChatProcess.Start(server, "--account", bob, "--password", "secret-2", "--register", "--transport", "ws-protobuf");
        await a.WaitForLineAsync(l => l.StartsWith($"logged in as {alice}"));
        await b.WaitForLineAsync(l => l.StartsWith($"logged in as {bob}"));

        await a.TypeAsync($"/add {bob} hi, it's alice");
        await a.WaitForLineAsync(l => l.StartsWith("friend request ") && l.EndsWith($"sent to {bob}"));
        await b.WaitForLineAsync(l => l == $"friend request from {alice}: hi, it's alice (/accept {alice})");
        await b.TypeAsync("/accept");
        await b.WaitForLineAsync(l => l == $"{alice} is now your friend");
        await a.WaitForLineAsync(l => l == $"{bob} accepted your friend request");

        await a.TypeAsync($"/to {bob} hello bob 👋");
        await a.WaitForLineAsync(l => l.StartsWith("sent #1 in s_"));
        await b.WaitForLineAsync(l => l == $"[#1] {alice}: hello bob 👋");
        await a.WaitForLineAsync(l => l.StartsWith($"{bob} received s_") && l.EndsWith("up to #1"));
        await b.TypeAsync($"/to {alice} hi alice");
        await a.WaitForLineAsync(l => l == $"[#2] {bob}: hi alice");
        await a.TypeAsync("and plain lines go to the current chat");
        await b.WaitForLineAsync(l => l == $"[#3] {alice}: and plain lines go to the current chat");
        await b.TypeAsync("/read");
        await a.WaitForLineAsync(l => l.StartsWith($"{bob} read s_") && l.EndsWith("up to #3"));

        await a.TypeAsync($"/group new tea {bob}");
        var created = await a.WaitForLineAsync(l => l.StartsWith("group tea created: id "));
        var groupId = created["group tea created: id ".Length..];
        await a.TypeAsync("tea at five?");
        await a.WaitForLineAsync(l => l == $"sent #1 in g_{groupId}");
        await b.WaitForLineAsync(l => l == $"[group {groupId} #1] {alice}: tea at five?");
        await b.TypeAsync($"/group {groupId} yes");
        await a.WaitForLineAsync(l => l == $"[group {groupId} #2] {bob}: yes");

        await a.TypeAsync("/quit");
        Assert.Equal(0, await a.WaitForExitAsync(Wait));
    }

    [Fact]
    public async Task Wrong_commands_and_a_wrong_password_are_answered_not_crashed_on()
    {
        await using var server = await ServerProcesses.StandaloneAsync();
        var user = await server.NewUserAsync();
        await using var chat = ChatProcess.Start(server);
        await chat.WaitForLineAsync(l => l.StartsWith("not logged in"));

        await chat.TypeAsync("hello?");
        await chat.WaitForLineAsync(l => l.StartsWith("log in first") || l.StartsWith("no chat chosen"));
        await chat.TypeAsync($"/login {user.Account} wrong-password");
        await chat.WaitForLineAsync(l => l.StartsWith("error: 401"));
        await chat.TypeAsync($"/login {user.Account} {user.Password}");
        await chat.WaitForLineAsync(l => l.StartsWith($"logged in as {user.Account}"));
        await chat.TypeAsync("/to nobody_here hi");
        await chat.WaitForLineAsync(l => l == "nobody_here is not your friend: /add nobody_here");
        await chat.TypeAsync("/frobnicate");
        await chat.WaitForLineAsync(l => l.StartsWith("unknown command"));

        chat.CloseInput();
        Assert.Equal(0, await chat.WaitForExitAsync(Wait));
    }

    /// <summary>One <c>easyim-chat</c> process, its stdin written and its stdout read line by line.</summary>
    private sealed class ChatProcess : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly List<string> _lines = [];
        private readonly SemaphoreSlim _changed = new(0);
        private int _read;

        private ChatProcess(Process process)
        {
            _process = process;
            _process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is null)
                    return;
                lock (_lines)
                    _lines.Add(e.Data);
                _changed.Release();
            };
            _process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is null)
                    return;
                lock (_lines)
                    _lines.Add("stderr: " + e.Data);
                _changed.Release();
            };
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public static ChatProcess Start(ServerProcesses server, params string[] args)
        {
            var info = new ProcessStartInfo("dotnet")
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                StandardInputEncoding = new UTF8Encoding(false),
                StandardOutputEncoding = Encoding.UTF8,
                UseShellExecute = false,
            };
            info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "easyim-chat.dll"));
            foreach (var arg in new[] { "--port", server.SocketPort.ToString(), "--apiport", server.ApiPort.ToString() }.Concat(args))
                info.ArgumentList.Add(arg);
            return new ChatProcess(Process.Start(info)!);
        }

        public async Task TypeAsync(string line)
        {
            await _process.StandardInput.WriteLineAsync(line);
            await _process.StandardInput.FlushAsync();
        }

        public void CloseInput() => _process.StandardInput.Close();

        /// <summary>The next line (after the last one matched) that <paramref name="match"/> accepts.</summary>
        public async Task<string> WaitForLineAsync(Func<string, bool> match, [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(match))] string expected = "")
        {
            using var timeout = new CancellationTokenSource(Wait);
            while (true)
            {
                lock (_lines)
                {
                    for (var i = _read; i < _lines.Count; i++)
                    {
                        if (match(_lines[i]))
                        {
                            _read = i + 1;
                            return _lines[i];
                        }
                    }
                }
                try
                {
                    await _changed.WaitAsync(timeout.Token);
                }
                catch (OperationCanceledException)
                {
                    string seen;
                    lock (_lines)
                        seen = string.Join("\n", _lines);
                    Assert.Fail($"no line {expected} within {Wait}; the client wrote:\n{seen}");
                }
            }
        }

        public async Task<int> WaitForExitAsync(TimeSpan timeout)
        {
            using var cts = new CancellationTokenSource(timeout);
            await _process.WaitForExitAsync(cts.Token);
            return _process.ExitCode;
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
            _process.Dispose();
        }
    }
}

using System.Globalization;
using System.Net;
using System.Net.Sockets;
using EasyIm.Client;
using EasyImApi = EasyIm.LoadTest.Targets.EasyImApi;
using EasyIm.LoadTest.Targets;
using EasyIm.LoadTest.Wire;

namespace EasyIm.LoadTest.Abuse;

/// <summary>
/// What the attackers (and the abuse scenario's setup) share: where the server is, how clients connect,
/// the run's id for account names, and the loopback addresses each person comes from.
/// </summary>
public sealed class AttackContext(IPEndPoint endpoint, Uri api, ClientTransport transport, string runId, TextWriter progress)
{
    /// <summary>How long an attacker's handshake may take: the server's own handshake timeout is 10 s.</summary>
    public static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);

    public IPEndPoint Endpoint { get; } = endpoint;

    public Uri Api { get; } = api;

    public ClientTransport Transport { get; } = transport;

    public string RunId { get; } = runId;

    public TextWriter Progress { get; } = progress;

    public LoopbackAddresses Addresses { get; } = new();

    /// <summary>The account name of an attack's user: <c>a{run}_{role}</c>.</summary>
    public string AccountName(string role) => $"a{RunId}_{role}";

    /// <summary>Registers <paramref name="account"/> from a loopback address of its own (one registration per address, as people do).</summary>
    public async Task<Account> RegisterAsync(string account, CancellationToken cancellationToken)
    {
        using var client = new EasyImApi(Api, Addresses.Next());
        return await client.RegisterAsync(account, cancellationToken);
    }

    /// <summary>Registers many, some at a time, in index order in the result.</summary>
    public async Task<Account[]> RegisterManyAsync(IReadOnlyList<string> accounts, int parallelism, CancellationToken cancellationToken)
    {
        var registered = new Account[accounts.Count];
        await Parallel.ForAsync(0, accounts.Count, new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = cancellationToken },
            async (i, ct) => registered[i] = await RegisterAsync(accounts[i], ct));
        return registered;
    }

    /// <summary>A friend request from <paramref name="a"/> that <paramref name="b"/> accepts.</summary>
    public async Task BefriendAsync(Account a, Account b, CancellationToken cancellationToken)
    {
        using var client = new EasyImApi(Api);
        var request = await client.AddFriendAsync(a, b.Id, cancellationToken);
        await client.AcceptFriendAsync(b, request, cancellationToken);
    }

    /// <summary>
    /// Opens and authenticates a connection of <paramref name="account"/> whose frames count into
    /// <paramref name="tally"/>; null, counted, when the server refused it or it failed.
    /// </summary>
    public async Task<LoadConnection?> TryConnectAsync(Account account, AttackTally tally, CancellationToken cancellationToken, int receiveBufferBytes = 0,
        TallyHandler? handler = null)
    {
        LoadConnection? connection = null;
        try
        {
            connection = await LoadConnection.OpenAsync(Endpoint, Transport, handler ?? new TallyHandler(tally), cancellationToken, receiveBufferBytes);
            await connection.HandshakeAsync(account.Id, account.Token, null, HandshakeTimeout, cancellationToken);
            tally.Got(AttackTally.HandshakeAccepted);
            return connection;
        }
        catch (HandshakeRefusedException ex)
        {
            tally.Got($"handshake refused: NOTIFY {ex.Code.ToString(CultureInfo.InvariantCulture)}", ex.Reason);
        }
        catch (TimeoutException)
        {
            tally.Got(AttackTally.HandshakeTimedOut);
        }
        catch (Exception ex) when (ex is IOException or SocketException)
        {
            tally.Got(AttackTally.ConnectFailed, ex.Message);
        }
        connection?.Abort();
        return null;
    }

    /// <summary>The one-to-one conversation id of two users: <c>s_&lt;smaller id&gt;_&lt;larger id&gt;</c>.</summary>
    public static string ConversationId(long a, long b) =>
        string.Create(CultureInfo.InvariantCulture, $"s_{Math.Min(a, b)}_{Math.Max(a, b)}");
}

/// <summary>Counts what a hostile connection receives into its attack's tally; <paramref name="answered"/> hears of each SENT ack or FAIL.</summary>
public sealed class TallyHandler(AttackTally tally, Action? answered = null) : IFrameHandler
{
    public void OnFrame(LoadConnection connection, ref Incoming frame)
    {
        // The handshake's own frames are counted as its outcome (accepted, refused with its NOTIFY).
        if (connection.DuringHandshake && !frame.IsChat)
            return;
        if (frame.MsgType == Incoming.Notify)
        {
            var notify = ServerEvent.Read(frame.Content);
            tally.Notify(notify.Code, notify.Message);
            return;
        }
        if (frame.MsgType == Incoming.Event)
        {
            var content = ServerEvent.Read(frame.Content);
            tally.Got(content.Key is null ? "event" : content.Done ? $"event {content.Key} done" : $"event {content.Key}");
            return;
        }
        if (!frame.IsChat)
            return;
        if (frame.Status == 0 && !frame.Error.IsEmpty)
        {
            tally.Fail(System.Text.Encoding.UTF8.GetString(frame.Error));
            answered?.Invoke();
        }
        // The ack echoes the client's seq; deliveries (the sender's other connections included) leave it out.
        else if (frame.Seq != 0 && frame.FromUserId == connection.UserId)
        {
            tally.Got(AttackTally.SentAck);
            answered?.Invoke();
        }
        else
            tally.Got(AttackTally.Received);
    }

    public void OnClosed(LoadConnection connection)
    {
        if (!connection.ClosedByClient)
            tally.Got(AttackTally.ClosedByServer, connection.CloseReason);
    }
}

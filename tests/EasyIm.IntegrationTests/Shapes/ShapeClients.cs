using System.Globalization;
using System.Text.Json;
using EasyIm.Client;
using EasyIm.Contracts.Wire;

namespace EasyIm.IntegrationTests.Shapes;

/// <summary>Socket-level helpers the scenarios share: connect a user, make friends, wait for frames.</summary>
public static class ShapeClients
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    /// <summary>Connects over <paramref name="transport"/> and completes the handshake.</summary>
    public static async Task<EasyImClient> ConnectAsync(this EasyImShape shape, TestUser user,
        ClientTransport transport = ClientTransport.TcpJson, string? deviceId = null, ulong? after = null)
    {
        // The shapes drop a connection silent for 6 s; a scenario may take longer between frames.
        var client = await EasyImClient.ConnectAsync("127.0.0.1", shape.SocketPort, transport,
            new EasyImClientOptions { KeepAliveEvery = TimeSpan.FromSeconds(2) });
        try
        {
            await client.HandshakeAsync(user.Id, user.AccessToken, deviceId, after: after);
            return client;
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    /// <summary>Makes two users friends over the HTTP API (invite, then accept).</summary>
    public static async Task MakeFriendsAsync(this EasyImShape shape, TestUser a, TestUser b)
    {
        var invite = await shape.PostAsync("/api/user/friend/add", new { to_user_id = b.Id.ToString(CultureInfo.InvariantCulture) }, a.AccessToken);
        Assert.Equal(200, invite.Status);
        var accept = await shape.PostAsync("/api/user/friend/accept", new { id = invite.Data.GetProperty("id").GetString() }, b.AccessToken);
        Assert.Equal(200, accept.Status);
    }

    /// <summary>Creates a group owned by <paramref name="owner"/> with <paramref name="members"/> (the owner's friends).</summary>
    public static async Task<long> CreateGroupAsync(this EasyImShape shape, TestUser owner, params TestUser[] members)
    {
        var created = await shape.PostAsync("/api/group/create",
            new { name = "g" + Guid.NewGuid().ToString("N")[..6], member_ids = members.Select(m => m.Id.ToString(CultureInfo.InvariantCulture)).ToArray() },
            owner.AccessToken);
        Assert.Equal(200, created.Status);
        return long.Parse(created.Data.GetProperty("id").GetString()!, CultureInfo.InvariantCulture);
    }

    public static string Id(long id) => id.ToString(CultureInfo.InvariantCulture);

    /// <summary>The one-to-one conversation id: <c>s_&lt;smaller&gt;_&lt;larger&gt;</c>.</summary>
    public static string Conversation(TestUser a, TestUser b) =>
        a.Id < b.Id ? $"s_{Id(a.Id)}_{Id(b.Id)}" : $"s_{Id(b.Id)}_{Id(a.Id)}";

    /// <summary>The <c>data</c> object of a server event.</summary>
    public static JsonElement Data(Msg msg) => Frames.Content(msg)!.Value.GetProperty("data");

    public static bool IsChat(Msg msg, string? clientMsgId = null) =>
        msg.MsgType is >= Msg.Types.MsgType.Text and <= Msg.Types.MsgType.Video
        && (clientMsgId is null || msg.ClientMsgId == clientMsgId);

    /// <summary>
    /// The first <paramref name="count"/> distinct messages (by id) matching <paramref name="match"/>, in
    /// the order they first arrived: delivery is at least once, and clients drop duplicates by id.
    /// </summary>
    public static async Task<List<Msg>> ReceiveDistinctAsync(this EasyImClient client, Func<Msg, bool> match, int count)
    {
        var seen = new HashSet<string>();
        var distinct = new List<Msg>();
        while (distinct.Count < count)
        {
            var msg = await client.WaitForAsync(match, Wait);
            if (seen.Add(msg.Id))
                distinct.Add(msg);
        }
        return distinct;
    }

    /// <summary>The first frame matching within <paramref name="timeout"/>, or null.</summary>
    public static async Task<Msg?> TryWaitForAsync(this EasyImClient client, Func<Msg, bool> match, TimeSpan timeout)
    {
        try
        {
            return await client.WaitForAsync(match, timeout);
        }
        catch (TimeoutException)
        {
            return null;
        }
    }

    /// <summary>
    /// Waits (up to <see cref="Wait"/>) until the user's update stream holds <paramref name="count"/> events after
    /// <paramref name="after"/>: a change's friend and group events are committed with it (friends' outbox) and appended
    /// to the stream by messaging right after, not in the request's answer.
    /// </summary>
    public static async Task StreamHoldsAsync(this EasyImShape shape, TestUser user, int count, ulong after = 0)
    {
        var deadline = DateTime.UtcNow + Wait;
        while ((await shape.GetAsync($"/api/user/updates?after={after}", user.AccessToken)).Data.GetProperty("updates").GetArrayLength() < count)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the update stream of {user.Id} never held {count} events after {after}");
            await Task.Delay(50);
        }
    }

    /// <summary>The SENT ack (or FAIL) of one client message.</summary>
    public static Task<Msg> AckAsync(this EasyImClient client, string clientMsgId) =>
        client.WaitForAsync(m => IsChat(m, clientMsgId) && m.Status is Msg.Types.MsgStatus.Sent or Msg.Types.MsgStatus.Fail, Wait);
}

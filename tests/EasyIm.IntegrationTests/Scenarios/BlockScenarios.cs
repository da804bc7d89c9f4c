using EasyIm.Client;
using EasyIm.Contracts.Wire;
using EasyIm.IntegrationTests.Shapes;
using static EasyIm.IntegrationTests.Scenarios.FriendSteps;
using static EasyIm.IntegrationTests.Shapes.ShapeClients;

namespace EasyIm.IntegrationTests.Scenarios;

/// <summary>
/// Blocking (issue 15), over real sockets and the HTTP API: the blocked user's messages, friend and group invitations
/// are refused as "not allowed" (never "blocked"), others are served meanwhile, the blocker's own list shows the block,
/// and unblocking restores the friendship's chat as it was.
/// </summary>
public abstract class BlockScenarios(EasyImShape shape)
{
    private const string NotAllowed = "you are not allowed to send messages to this user";

    [SkippableFact]
    public async Task A_blocked_friends_messages_are_refused_as_not_allowed_while_others_chat_and_unblocking_lets_them_through_again()
    {
        shape.RequireAvailable();
        var bea = await shape.NewUserAsync();
        var al = await shape.NewUserAsync();
        var cy = await shape.NewUserAsync();
        await shape.MakeFriendsAsync(bea, al);
        await shape.MakeFriendsAsync(bea, cy);
        await using var cBea = await shape.ConnectAsync(bea, ClientTransport.WebSocketJson);
        await using var cAl = await shape.ConnectAsync(al, ClientTransport.TcpProtobuf);
        await using var cCy = await shape.ConnectAsync(cy, ClientTransport.TcpJson);

        var blocked = await shape.PostAsync("/api/user/friend/block", new { user_id = Id(al.Id) }, bea.AccessToken);
        Assert.True(blocked.Status == 200, $"block: {blocked.Status} {blocked.Msg}");
        await cAl.SendAsync(Frames.Chat(bea.Id, "hello?", "b-1"));
        await cCy.SendAsync(Frames.Chat(bea.Id, "hi bea", "c-1"));
        var refused = await cAl.AckAsync("b-1");
        var served = await cCy.AckAsync("c-1");
        await cBea.WaitForAsync(m => IsChat(m, "c-1"), Wait);

        Assert.Equal((Msg.Types.MsgStatus.Fail, NotAllowed), (refused.Status, refused.Error));
        Assert.DoesNotContain("block", refused.Error, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(Msg.Types.MsgStatus.Sent, served.Status);
        // The friendship stays; bea's list of blocks names al, and al's own list is empty.
        Assert.Contains(Id(al.Id), await shape.FriendIdsAsync(bea));
        Assert.Equal([Id(al.Id)], (await shape.ItemsAsync("/api/user/friend/blocks", bea)).Select(u => u.Str("id")));
        Assert.Empty(await shape.ItemsAsync("/api/user/friend/blocks", al));
        // Bea may still write to al: the block is hers.
        await cBea.SendAsync(Frames.Chat(al.Id, "not you", "a-1"));
        Assert.Equal(Msg.Types.MsgStatus.Sent, (await cBea.AckAsync("a-1")).Status);

        var unblocked = await shape.PostAsync("/api/user/friend/unblock", new { user_id = Id(al.Id) }, bea.AccessToken);
        Assert.True(unblocked.Status == 200, $"unblock: {unblocked.Status} {unblocked.Msg}");
        await cAl.SendAsync(Frames.Chat(bea.Id, "hello again", "b-2"));
        Assert.Equal(Msg.Types.MsgStatus.Sent, (await cAl.AckAsync("b-2")).Status);
        await cBea.WaitForAsync(m => IsChat(m, "b-2"), Wait);
        // Nothing al sent while blocked ever reached bea, or her history.
        Assert.Null(await cBea.TryWaitForAsync(m => IsChat(m, "b-1"), TimeSpan.Zero));
        var history = await shape.GetAsync($"/api/chat/history?conversation_id={Conversation(bea, al)}", bea.AccessToken);
        Assert.DoesNotContain("hello?", history.Data.ToString(), StringComparison.Ordinal);
        Assert.Empty(await shape.ItemsAsync("/api/user/friend/blocks", bea));
    }

    [SkippableFact]
    public async Task A_blocked_user_may_not_invite_the_blocker_to_be_friends_or_into_a_group_and_is_told_only_not_allowed()
    {
        shape.RequireAvailable();
        var bea = await shape.NewUserAsync();
        var al = await shape.NewUserAsync();
        var cy = await shape.NewUserAsync();
        await shape.MakeFriendsAsync(al, cy);
        await shape.MakeFriendsAsync(bea, cy);
        // Al's invitation is waiting when bea blocks him: it is declined.
        await shape.InviteAsync(al, bea);
        Assert.Single(await shape.ItemsAsync("/api/user/friend/requests", bea));
        Assert.Equal(200, (await shape.PostAsync("/api/user/friend/block", new { user_id = Id(al.Id) }, bea.AccessToken)).Status);

        Assert.Empty(await shape.ItemsAsync("/api/user/friend/requests", bea));
        var invite = await shape.PostAsync("/api/user/friend/add", new { to_user_id = Id(bea.Id) }, al.AccessToken);
        AssertRefused(invite, 403, "to_user_id");
        Assert.DoesNotContain("block", invite.Msg, StringComparison.OrdinalIgnoreCase);
        // Bea inviting the one she blocks is refused too, and she is told why.
        var own = await shape.PostAsync("/api/user/friend/add", new { to_user_id = Id(al.Id) }, bea.AccessToken);
        AssertRefused(own, 403, "to_user_id");
        Assert.Contains("unblock", own.Msg, StringComparison.Ordinal);
        // Friends, then blocked again: al may not add bea to a group (nor make one with her); cy, friend of both, may.
        Assert.Equal(200, (await shape.PostAsync("/api/user/friend/unblock", new { user_id = Id(al.Id) }, bea.AccessToken)).Status);
        await shape.MakeFriendsAsync(bea, al);
        Assert.Equal(200, (await shape.PostAsync("/api/user/friend/block", new { user_id = Id(al.Id) }, bea.AccessToken)).Status);
        var group = await shape.CreateGroupAsync(cy, al);
        var byAl = await shape.PostAsync("/api/group/invite", new { group_id = Id(group), user_ids = new[] { Id(bea.Id) } }, al.AccessToken);
        AssertRefused(byAl, 403, "user_ids");
        Assert.DoesNotContain("block", byAl.Msg, StringComparison.OrdinalIgnoreCase);
        var byCy = await shape.PostAsync("/api/group/invite", new { group_id = Id(group), user_ids = new[] { Id(bea.Id) } }, cy.AccessToken);
        Assert.True(byCy.Status == 200, $"cy's invite: {byCy.Status} {byCy.Msg}");
        var made = await shape.PostAsync("/api/group/create", new { name = "with bea", member_ids = new[] { Id(bea.Id) } }, al.AccessToken);
        AssertRefused(made, 403, "member_ids");
    }

    [SkippableFact]
    public async Task Blocking_oneself_an_unknown_user_or_past_nothing_is_refused_with_a_clear_answer_and_blocking_twice_changes_nothing()
    {
        shape.RequireAvailable();
        var bea = await shape.NewUserAsync();
        var al = await shape.NewUserAsync();

        AssertRefused(await shape.PostAsync("/api/user/friend/block", new { user_id = Id(bea.Id) }, bea.AccessToken), 400, "user_id");
        AssertRefused(await shape.PostAsync("/api/user/friend/block", new { user_id = "999999999999" }, bea.AccessToken), 404, "user_id");
        AssertRefused(await shape.PostAsync("/api/user/friend/block", new { user_id = "al" }, bea.AccessToken), 400, "user_id");
        AssertRefused(await shape.PostAsync("/api/user/friend/block", new { }, bea.AccessToken), 400, "user_id");
        AssertRefused(await shape.PostAsync("/api/user/friend/unblock", new { user_id = Id(al.Id) }, bea.AccessToken), 404, "user_id");
        Assert.Equal(200, (await shape.PostAsync("/api/user/friend/block", new { user_id = Id(al.Id) }, bea.AccessToken)).Status);
        Assert.Equal(200, (await shape.PostAsync("/api/user/friend/block", new { user_id = Id(al.Id) }, bea.AccessToken)).Status);

        Assert.Equal([Id(al.Id)], (await shape.ItemsAsync("/api/user/friend/blocks", bea)).Select(u => u.Str("id")));
        Assert.Equal(401, (await shape.GetAsync("/api/user/friend/blocks", "not-a-token")).Status);

        // The client library does the same.
        using var api = EasyImApi.Connect("127.0.0.1", shape.ApiPort);
        api.AccessToken = bea.AccessToken;
        await api.UnblockAsync(al.Id);
        Assert.Empty(await api.BlockedAsync());
        await api.BlockAsync(al.Id);
        Assert.Equal([al.Id], (await api.BlockedAsync()).Select(u => u.Id));
        Assert.Equal(400, (await Assert.ThrowsAsync<EasyImApiException>(() => api.BlockAsync(bea.Id))).Code);
    }
}

[Collection(StandaloneCollection.Name)]
public sealed class StandaloneBlockScenarios(StandaloneShape shape) : BlockScenarios(shape);

[Collection(DistributedCollection.Name)]
public sealed class DistributedBlockScenarios(DistributedShape shape) : BlockScenarios(shape);

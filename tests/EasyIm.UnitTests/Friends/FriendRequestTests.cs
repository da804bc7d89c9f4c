using EasyIm.Contracts.Auth;
using EasyIm.Contracts.Friends;
using EasyIm.Contracts.Gateway;
using EasyIm.Friends.Data;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.UnitTests.Friends;

public sealed class FriendRequestTests : IAsyncLifetime
{
    private FriendsHarness _h = null!;

    public async Task InitializeAsync() => _h = await FriendsHarness.StartAsync();

    public async Task DisposeAsync() => await _h.DisposeAsync();

    private Task<Reply<FriendRequestSent>> InviteAsync(long from, long to, string? msg = null, Guid? messageId = null) =>
        _h.AskAsync<SendFriendRequest, FriendRequestSent>(new SendFriendRequest(from, to, msg), messageId);

    private Task<Reply<FriendRequestAccepted>> AcceptAsync(long me, long? requestId, long? inviterId = null, Guid? messageId = null) =>
        _h.AskAsync<AcceptFriendRequest, FriendRequestAccepted>(new AcceptFriendRequest(me, requestId, inviterId), messageId);

    private Task<int> CountAsync<T>(Func<FriendsDbContext, IQueryable<T>> query) => _h.WithDbAsync(db => query(db).CountAsync());

    [Fact]
    public async Task An_invitation_is_stored_and_pushed_to_the_invitee_as_FRIEND_INVITE_with_the_exact_content()
    {
        var alice = await _h.NewUserAsync();
        var bob = await _h.NewUserAsync();

        var sent = await InviteAsync(alice, bob, "hi \"bob\", it's me, 小红 <3");

        Assert.NotNull(sent.Ok);
        Assert.Equal((alice, bob), (sent.Ok.FromUserId, sent.Ok.ToUserId));
        var push = Assert.Single(Assert.Single(_h.Announced()).Pushes);
        Assert.Equal(bob, push.UserId);
        Assert.Null(push.OnlyConnectionId);
        Assert.Equal(4, push.Message.MsgType);
        Assert.Equal((alice, bob), (push.Message.FromUserId, push.Message.ToUserId));
        Assert.Equal(
            $$$"""{"code":200,"msg":"SUCCESS","data":{"key":"FRIEND_INVITE","id":"{{{sent.Ok.RequestId}}}","msg":"hi \"bob\", it's me, 小红 <3"}}""",
            push.Message.Text());
        var pending = await _h.OkAsync<ListFriendRequests, FriendRequestList>(new ListFriendRequests(bob));
        var item = Assert.Single(pending.Items);
        Assert.Equal((sent.Ok.RequestId, alice, "hi \"bob\", it's me, 小红 <3"), (item.Id, item.FromUserId, item.Message));
        Assert.Equal($"user{alice}", item.Account);
        await _h.AssertNoFaultsAsync();
    }

    [Fact]
    public async Task A_second_invitation_while_one_is_pending_is_refused_with_409_either_way()
    {
        var alice = await _h.NewUserAsync();
        var bob = await _h.NewUserAsync();
        var first = await InviteAsync(alice, bob);

        var again = await InviteAsync(alice, bob, "please");
        var reverse = await InviteAsync(bob, alice);

        Assert.NotNull(first.Ok);
        Assert.Equal((409, "to_user_id"), (again.Rejected?.Code, again.Rejected?.Field));
        // The other side is told which request to accept instead.
        Assert.Equal(409, reverse.Rejected?.Code);
        Assert.Contains(first.Ok.RequestId.ToString(), reverse.Rejected!.Message);
        Assert.Equal(1, await CountAsync(db => db.FriendRequests));
        Assert.Single(_h.Announced());
        await _h.AssertNoFaultsAsync();
    }

    [Fact]
    public async Task Inviting_oneself_or_an_unknown_user_or_with_an_overlong_message_is_refused()
    {
        var alice = await _h.NewUserAsync();
        var bob = await _h.NewUserAsync();

        var self = await InviteAsync(alice, alice);
        var unknown = await InviteAsync(alice, 987654321);
        var longMessage = await InviteAsync(alice, bob, new string('m', FriendRules.MessageMaxLength + 1));

        Assert.Equal((400, "to_user_id"), (self.Rejected?.Code, self.Rejected?.Field));
        Assert.Equal((404, "to_user_id"), (unknown.Rejected?.Code, unknown.Rejected?.Field));
        Assert.Equal((400, "msg"), (longMessage.Rejected?.Code, longMessage.Rejected?.Field));
        Assert.Equal(0, await CountAsync(db => db.FriendRequests));
        Assert.Empty(_h.Announced());
        await _h.AssertNoFaultsAsync();
    }

    [Fact]
    public async Task A_user_the_projection_has_not_heard_of_is_asked_of_auth_stored_and_invitable()
    {
        var alice = await _h.NewUserAsync();
        var fresh = await _h.NewUserAsync(nickname: "Fresh One", projected: false);

        var sent = await InviteAsync(alice, fresh);

        Assert.NotNull(sent.Ok);
        Assert.Equal(1, _h.Auth.Lookups);
        var stored = await _h.WithDbAsync(db => db.Users.SingleAsync(u => u.Id == fresh));
        Assert.Equal(("Fresh One", "fresh one"), (stored.Nickname, stored.NicknameKey));
        // Now known: no second look-up.
        await InviteAsync(fresh, alice);
        Assert.Equal(1, _h.Auth.Lookups);
        await _h.AssertNoFaultsAsync();
    }

    [Fact]
    public async Task Accepting_makes_both_friends_announces_the_friendship_once_and_pushes_FRIEND_AGREE_to_the_inviter()
    {
        var alice = await _h.NewUserAsync();
        var bob = await _h.NewUserAsync();
        var request = (await InviteAsync(alice, bob)).Ok!.RequestId;

        var accepted = await AcceptAsync(bob, request);

        Assert.Equal((request, alice, bob), (accepted.Ok?.RequestId, accepted.Ok?.InviterId, accepted.Ok?.InviteeId));
        Assert.Equal([bob], (await _h.OkAsync<ListFriends, UserList>(new ListFriends(alice))).Items.Select(u => u.Id));
        Assert.Equal([alice], (await _h.OkAsync<ListFriends, UserList>(new ListFriends(bob))).Items.Select(u => u.Id));
        var created = Assert.Single(_h.Published<FriendshipCreated>());
        Assert.Equal((alice, bob), (created.UserId, created.FriendId));
        // Messaging had it before the answer: either may send at once.
        Assert.Equal([created], _h.Messaging.Applied.OfType<FriendshipCreated>());
        var agree = _h.Announced().SelectMany(p => p.Pushes).Single(p => p.Message.Text().Contains("FRIEND_AGREE"));
        Assert.Equal(alice, agree.UserId);
        Assert.Equal((4, bob, alice), (agree.Message.MsgType, agree.Message.FromUserId, agree.Message.ToUserId));
        Assert.Equal($$$"""{"code":200,"msg":"SUCCESS","data":{"key":"FRIEND_AGREE","id":"{{{request}}}"}}""", agree.Message.Text());
        Assert.Empty((await _h.OkAsync<ListFriendRequests, FriendRequestList>(new ListFriendRequests(bob))).Items);
        // Friends now: another invitation is a conflict.
        Assert.Equal(409, (await InviteAsync(bob, alice)).Rejected?.Code);
        await _h.AssertNoFaultsAsync();
    }

    [Fact]
    public async Task An_accept_is_answered_even_when_messaging_does_not_answer_its_read_your_writes_request()
    {
        var alice = await _h.NewUserAsync();
        var bob = await _h.NewUserAsync();
        var request = (await InviteAsync(alice, bob)).Ok!.RequestId;
        _h.Messaging.Silent = true;

        var accepted = await AcceptAsync(bob, request);

        Assert.Equal(request, accepted.Ok?.RequestId);
        // The published event still carries the friendship to messaging.
        Assert.Equal((alice, bob), Assert.Single(_h.Published<FriendshipCreated>()) is var c ? (c.UserId, c.FriendId) : default);
        Assert.Empty(_h.Messaging.Applied);
        await _h.AssertNoFaultsAsync();
    }

    [Fact]
    public async Task Only_the_invitee_may_accept_and_the_inviter_may_be_named_instead_of_the_request()
    {
        var alice = await _h.NewUserAsync();
        var bob = await _h.NewUserAsync();
        var mallory = await _h.NewUserAsync();
        var request = (await InviteAsync(alice, bob)).Ok!.RequestId;

        var byInviter = await AcceptAsync(alice, request);
        var byStranger = await AcceptAsync(mallory, request);
        var strangerByInviterId = await AcceptAsync(mallory, null, alice);
        var unknown = await AcceptAsync(bob, 123456789);
        var neither = await AcceptAsync(bob, null);

        Assert.Equal((403, "id"), (byInviter.Rejected?.Code, byInviter.Rejected?.Field));
        Assert.Equal(403, byStranger.Rejected?.Code);
        Assert.Equal((404, "from_user_id"), (strangerByInviterId.Rejected?.Code, strangerByInviterId.Rejected?.Field));
        Assert.Equal(404, unknown.Rejected?.Code);
        Assert.Equal((400, "id"), (neither.Rejected?.Code, neither.Rejected?.Field));
        Assert.Equal(0, await CountAsync(db => db.Friendships));

        var accepted = await AcceptAsync(bob, null, alice);
        Assert.Equal(request, accepted.Ok?.RequestId);
        Assert.Equal(2, await CountAsync(db => db.Friendships));
        await _h.AssertNoFaultsAsync();
    }

    [Fact]
    public async Task A_redelivered_invitation_stores_one_request_and_answers_the_same_id()
    {
        var alice = await _h.NewUserAsync();
        var bob = await _h.NewUserAsync();
        var messageId = Guid.NewGuid();

        var first = await InviteAsync(alice, bob, "hello", messageId);
        var redelivered = await InviteAsync(alice, bob, "hello", messageId);

        Assert.NotNull(first.Ok);
        Assert.Equal(first.Ok.RequestId, redelivered.Ok?.RequestId);
        Assert.Equal(1, await CountAsync(db => db.FriendRequests));
        await _h.AssertNoFaultsAsync();
    }

    [Fact]
    public async Task A_redelivered_accept_answers_alike_without_a_second_friendship_but_a_new_accept_is_a_conflict()
    {
        var alice = await _h.NewUserAsync();
        var bob = await _h.NewUserAsync();
        var request = (await InviteAsync(alice, bob)).Ok!.RequestId;
        var messageId = Guid.NewGuid();

        var first = await AcceptAsync(bob, request, messageId: messageId);
        var redelivered = await AcceptAsync(bob, request, messageId: messageId);
        var clickedTwice = await AcceptAsync(bob, request);

        Assert.NotNull(first.Ok);
        Assert.Equal(first.Ok, redelivered.Ok);
        Assert.Equal((409, "id"), (clickedTwice.Rejected?.Code, clickedTwice.Rejected?.Field));
        Assert.Equal(2, await CountAsync(db => db.Friendships));
        await _h.AssertNoFaultsAsync();
    }

    [Fact]
    public async Task Concurrent_invitations_of_one_pair_store_exactly_one_pending_request()
    {
        var alice = await _h.NewUserAsync();
        var bob = await _h.NewUserAsync();

        var replies = await Task.WhenAll(Enumerable.Range(0, 6).Select(i => InviteAsync(alice, bob, $"try {i}")));

        Assert.Single(replies, r => r.Ok is not null);
        Assert.All(replies.Where(r => r.Ok is null), r => Assert.Equal(409, r.Rejected?.Code));
        Assert.Equal(1, await CountAsync(db => db.FriendRequests));
        await _h.AssertNoFaultsAsync();
    }

    [Fact]
    public async Task Concurrent_accepts_of_one_request_make_one_friendship_and_one_announcement()
    {
        var alice = await _h.NewUserAsync();
        var bob = await _h.NewUserAsync();
        var request = (await InviteAsync(alice, bob)).Ok!.RequestId;

        var replies = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => AcceptAsync(bob, request)));

        Assert.Single(replies, r => r.Ok is not null);
        Assert.All(replies.Where(r => r.Ok is null), r => Assert.Equal(409, r.Rejected?.Code));
        Assert.Equal(2, await CountAsync(db => db.Friendships));
        Assert.Single(_h.Published<FriendshipCreated>());
        await _h.AssertNoFaultsAsync();
    }

    [Fact]
    public async Task An_accept_that_loses_a_race_with_a_reject_is_retried_and_refused()
    {
        var alice = await _h.NewUserAsync();
        var bob = await _h.NewUserAsync();
        var request = (await InviteAsync(alice, bob)).Ok!.RequestId;
        // Another device of bob's rejects between the accept's read and its write.
        _h.Hook.BeforeNextSave(() => _h.WithDbAsync(async db =>
        {
            var row = await db.FriendRequests.SingleAsync(r => r.Id == request);
            row.Status = FriendRequestStatus.Rejected;
            return await db.SaveChangesAsync();
        }));

        var accepted = await AcceptAsync(bob, request);

        Assert.Equal(409, accepted.Rejected?.Code);
        Assert.Contains("rejected", accepted.Rejected!.Message);
        Assert.Equal(0, await CountAsync(db => db.Friendships));
        Assert.Empty(_h.Published<FriendshipCreated>());
        await _h.AssertNoFaultsAsync();
    }

    [Fact]
    public async Task A_rejected_request_is_gone_from_the_list_and_the_inviter_may_invite_again()
    {
        var alice = await _h.NewUserAsync();
        var bob = await _h.NewUserAsync();
        var request = (await InviteAsync(alice, bob)).Ok!.RequestId;

        var byInviter = await _h.AskAsync<RejectFriendRequest, FriendRequestDeclined>(new RejectFriendRequest(alice, request));
        var rejected = await _h.AskAsync<RejectFriendRequest, FriendRequestDeclined>(new RejectFriendRequest(bob, request));
        var acceptAfter = await AcceptAsync(bob, request);

        Assert.Equal(403, byInviter.Rejected?.Code);
        Assert.Equal(request, rejected.Ok?.RequestId);
        Assert.Equal(409, acceptAfter.Rejected?.Code);
        Assert.Empty((await _h.OkAsync<ListFriendRequests, FriendRequestList>(new ListFriendRequests(bob))).Items);
        Assert.NotNull((await InviteAsync(alice, bob)).Ok);
        Assert.Equal(0, await CountAsync(db => db.Friendships));
        await _h.AssertNoFaultsAsync();
    }

    [Fact]
    public async Task Removing_a_friend_ends_both_directions_and_announces_it_once()
    {
        var alice = await _h.NewUserAsync();
        var bob = await _h.NewUserAsync();
        await AcceptAsync(bob, (await InviteAsync(alice, bob)).Ok!.RequestId);

        var removed = await _h.AskAsync<RemoveFriend, FriendRemoved>(new RemoveFriend(bob, alice));
        var again = await _h.AskAsync<RemoveFriend, FriendRemoved>(new RemoveFriend(alice, bob));
        var self = await _h.AskAsync<RemoveFriend, FriendRemoved>(new RemoveFriend(alice, alice));

        Assert.NotNull(removed.Ok);
        Assert.Equal((404, "friend_id"), (again.Rejected?.Code, again.Rejected?.Field));
        Assert.Equal(400, self.Rejected?.Code);
        Assert.Equal(0, await CountAsync(db => db.Friendships));
        var announced = Assert.Single(_h.Published<FriendshipRemoved>());
        Assert.Equal((bob, alice), (announced.UserId, announced.FriendId));
        // Messaging had it before the answer: a message sent after it is refused.
        Assert.Equal([announced], _h.Messaging.Applied.OfType<FriendshipRemoved>());
        Assert.Empty((await _h.OkAsync<ListFriends, UserList>(new ListFriends(alice))).Items);
        // Both sides' live connections hear of it once (the remover's other devices too); the refusals push nothing.
        var pushes = _h.Announced().SelectMany(p => p.Pushes).Where(p => p.Message.Text().Contains("FRIEND_REMOVE")).ToList();
        Assert.Equal([alice, bob], pushes.Select(p => p.UserId).Order());
        Assert.All(pushes, p => Assert.Equal((4, bob), (p.Message.MsgType, p.Message.FromUserId)));
        // Each is the second event of its user's update stream (after the invitation or the agreement).
        Assert.Equal($$$"""{"code":200,"msg":"SUCCESS","data":{"key":"FRIEND_REMOVE","user_id":"{{{bob}}}"}}""", pushes.Single(p => p.UserId == alice).Message.Text());
        Assert.Equal($$$"""{"code":200,"msg":"SUCCESS","data":{"key":"FRIEND_REMOVE","user_id":"{{{alice}}}"}}""", pushes.Single(p => p.UserId == bob).Message.Text());
        await _h.AssertNoFaultsAsync();
    }

    [Fact]
    public async Task Pending_invitations_are_pushed_to_a_connection_that_just_connected_and_to_it_only()
    {
        var alice = await _h.NewUserAsync();
        var carol = await _h.NewUserAsync();
        var bob = await _h.NewUserAsync();
        var fromAlice = (await InviteAsync(alice, bob, "first")).Ok!.RequestId;
        var fromCarol = (await InviteAsync(carol, bob)).Ok!.RequestId;
        var sentBefore = _h.Sent<PushToUsers>().Count;

        await _h.Bus.Bus.Publish(new UserConnected(bob, "gw-1", "conn-7", null, DateTimeOffset.UtcNow));

        // Sent to the gateway the connect came from, not published to every gateway.
        await FriendsHarness.EventuallyAsync(() => _h.Sent<PushToUsers>().Count > sentBefore, "the pending invitations' push");
        var (to, sync) = _h.Sent<PushToUsers>().Skip(sentBefore).Single();
        Assert.Equal("gateway-gw-1", to?.AbsolutePath.Trim('/'));
        Assert.All(sync.Pushes, p => Assert.Equal((bob, "conn-7"), (p.UserId, p.OnlyConnectionId)));
        Assert.Equal([fromAlice, fromCarol], sync.Pushes.Select(p => RequestIdOf(p.Message)));
        Assert.Equal([alice, carol], sync.Pushes.Select(p => p.Message.FromUserId));
        await _h.AssertNoFaultsAsync();
    }

    [Fact]
    public async Task A_connection_with_nothing_pending_gets_no_push()
    {
        var bob = await _h.NewUserAsync();

        await _h.Bus.Bus.Publish(new UserConnected(bob, "gw-1", "conn-1", null, DateTimeOffset.UtcNow));

        await _h.ConsumedAsync<UserConnected>(m => m.ConnectionId == "conn-1");
        Assert.Empty(_h.Announced());
        Assert.Empty(_h.Sent<PushToUsers>());
        await _h.AssertNoFaultsAsync();
    }

    [Fact]
    public async Task A_registered_user_is_projected_and_a_later_registration_event_updates_the_projection()
    {
        await _h.Bus.Bus.Publish(new UserRegistered(77, "NewUser", "Newbie", "/a.svg", DateTimeOffset.UtcNow));
        await _h.ConsumedAsync<UserRegistered>(m => m.Nickname == "Newbie");
        await _h.Bus.Bus.Publish(new UserRegistered(77, "NewUser", "Renamed", "/b.svg", DateTimeOffset.UtcNow));
        await _h.ConsumedAsync<UserRegistered>(m => m.Nickname == "Renamed");

        var user = await _h.WithDbAsync(db => db.Users.SingleAsync(u => u.Id == 77));

        Assert.Equal(("NewUser", "newuser", "Renamed", "/b.svg"), (user.Account, user.AccountKey, user.Nickname, user.Avatar));
        await _h.AssertNoFaultsAsync();
    }

    private static long RequestIdOf(WireMessage message)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(message.Text());
        return long.Parse(doc.RootElement.GetProperty("data").GetProperty("id").GetString()!);
    }
}

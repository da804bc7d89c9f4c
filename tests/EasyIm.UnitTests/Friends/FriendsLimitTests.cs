using EasyIm.Contracts.Friends;
using EasyIm.Contracts.Gateway;
using EasyIm.Friends;
using EasyIm.Friends.Data;
using EasyIm.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;

namespace EasyIm.UnitTests.Friends;

/// <summary>
/// What one user may take of the friends service: group size, groups per user, who may invite,
/// friend requests waiting, and text the stores refuse. Small caps, so each is reached in a few calls.
/// </summary>
public sealed class FriendsLimitTests : IAsyncLifetime
{
    private const int MaxMembers = 4;
    private const int MaxGroups = 3;
    private const int MaxPending = 3;
    private const int MaxBlocked = 2;
    private FriendsHarness _h = null!;

    public async Task InitializeAsync() => _h = await FriendsHarness.StartAsync(new FriendsOptions
    {
        MaxGroupMembers = MaxMembers,
        MaxGroupsPerUser = MaxGroups,
        MaxPendingFriendRequests = MaxPending,
        MaxBlockedUsers = MaxBlocked,
    });

    public async Task DisposeAsync() => await _h.DisposeAsync();

    private async Task<(long Owner, long[] Friends)> OwnerWithFriendsAsync(int count)
    {
        var owner = await _h.NewUserAsync();
        var friends = new long[count];
        for (var i = 0; i < count; i++)
            friends[i] = await BefriendAsync(owner, await _h.NewUserAsync());
        return (owner, friends);
    }

    private async Task<long> BefriendAsync(long a, long b)
    {
        var sent = await _h.OkAsync<SendFriendRequest, FriendRequestSent>(new SendFriendRequest(a, b, null));
        await _h.OkAsync<AcceptFriendRequest, FriendRequestAccepted>(new AcceptFriendRequest(b, sent.RequestId, null));
        return b;
    }

    private Task<Reply<GroupCreated>> CreateAsync(long owner, IReadOnlyList<long> members) =>
        _h.AskAsync<CreateGroup, GroupCreated>(new CreateGroup(owner, "g", members));

    private Task<Reply<GroupMembersChanged>> InviteAsync(long me, long group, IReadOnlyList<long> users) =>
        _h.AskAsync<InviteToGroup, GroupMembersChanged>(new InviteToGroup(me, group, users));

    private Task<Reply<GroupSettingsUpdated>> SetPolicyAsync(long me, long group, string? policy) =>
        _h.AskAsync<UpdateGroupSettings, GroupSettingsUpdated>(new UpdateGroupSettings(me, group, policy));

    private Task<List<long>> MembersAsync(long group) =>
        _h.WithDbAsync(db => db.GroupMembers.Where(m => m.GroupId == group).Select(m => m.UserId).OrderBy(id => id).ToListAsync());

    private int JoinPushes(long group) =>
        _h.Announced().Count(p => p.Pushes.Any(u => u.Message.Text().Contains("GROUP_JOIN") && u.Message.Text().Contains(group.ToString())));

    [Fact]
    public async Task An_invite_past_the_group_size_cap_is_refused_with_409_and_changes_nothing()
    {
        var (owner, friends) = await OwnerWithFriendsAsync(5);
        var group = (await CreateAsync(owner, [friends[0], friends[1]])).Ok!.GroupId;
        var before = await MembersAsync(group);
        var (added, joins) = (_h.Published<GroupMemberAdded>().Count, JoinPushes(group));

        var past = await InviteAsync(owner, group, [friends[2], friends[3]]);

        Assert.Equal((409, "user_ids"), (past.Rejected?.Code, past.Rejected?.Field));
        Assert.Contains($"at most {MaxMembers}", past.Rejected!.Message);
        Assert.Equal(before, await MembersAsync(group));
        Assert.Equal((added, joins), (_h.Published<GroupMemberAdded>().Count, JoinPushes(group)));
        Assert.DoesNotContain(_h.Messaging.Applied.OfType<GroupMemberAdded>(), a => a.UserId == friends[2] || a.UserId == friends[3]);

        // Up to the cap is fine; members already in cost nothing; one more is refused.
        Assert.Equal(MaxMembers, (await InviteAsync(owner, group, [friends[2]])).Ok?.MemberCount);
        Assert.Equal(MaxMembers, (await InviteAsync(owner, group, [friends[0], friends[2]])).Ok?.MemberCount);
        Assert.Equal(409, (await InviteAsync(owner, group, [friends[4]])).Rejected?.Code);
        // A seat that frees up can be taken again.
        await _h.OkAsync<LeaveGroup, GroupMembersChanged>(new LeaveGroup(friends[0], group));
        Assert.Equal(MaxMembers, (await InviteAsync(owner, group, [friends[4]])).Ok?.MemberCount);
        await _h.AssertNoFaultsAsync();
    }

    [Fact]
    public async Task A_create_past_the_group_size_cap_is_refused_and_makes_no_group()
    {
        var (owner, friends) = await OwnerWithFriendsAsync(MaxMembers);

        var past = await CreateAsync(owner, friends);
        var atCap = await CreateAsync(owner, friends[..^1]);

        Assert.Equal((409, "member_ids"), (past.Rejected?.Code, past.Rejected?.Field));
        Assert.NotNull(atCap.Ok);
        Assert.Equal(1, await _h.WithDbAsync(db => db.Groups.CountAsync()));
        Assert.Equal(MaxMembers, (await MembersAsync(atCap.Ok.GroupId)).Count);
        await _h.AssertNoFaultsAsync();
    }

    [Fact]
    public async Task Two_invites_racing_for_the_last_seat_cannot_pass_the_cap_together()
    {
        var (owner, friends) = await OwnerWithFriendsAsync(4);
        var group = (await CreateAsync(owner, [friends[0], friends[1]])).Ok!.GroupId;
        // Another invite takes the last seat between this one's count and its save, as another process would.
        _h.Hook.BeforeNextSave(() => _h.WithDbAsync(async db =>
        {
            db.GroupMembers.Add(new GroupMember { GroupId = group, UserId = friends[3], Role = GroupRoles.Member, JoinedAtMs = 1 });
            (await db.Groups.SingleAsync(g => g.Id == group)).Version++;
            return await db.SaveChangesAsync();
        }));

        var late = await InviteAsync(owner, group, [friends[2]]);

        Assert.Equal(409, late.Rejected?.Code);
        Assert.Equal(MaxMembers, (await MembersAsync(group)).Count);
        Assert.DoesNotContain(friends[2], await MembersAsync(group));
        await _h.AssertNoFaultsAsync();
    }

    [Fact]
    public async Task Under_the_admins_policy_only_the_owner_may_invite_and_the_owner_may_set_it_back()
    {
        var (owner, friends) = await OwnerWithFriendsAsync(1);
        var group = (await CreateAsync(owner, [friends[0]])).Ok!.GroupId;
        var theirs = await BefriendAsync(friends[0], await _h.NewUserAsync());
        var mine = await BefriendAsync(owner, await _h.NewUserAsync());

        var set = await SetPolicyAsync(owner, group, "Admins");
        var byMember = await InviteAsync(friends[0], group, [theirs]);
        var byOwner = await InviteAsync(owner, group, [mine]);

        Assert.Equal((group, GroupInvitePolicies.Admins), (set.Ok?.GroupId, set.Ok?.InvitePolicy));
        Assert.Equal((403, "group_id"), (byMember.Rejected?.Code, byMember.Rejected?.Field));
        Assert.Contains("invite_policy", byMember.Rejected!.Message);
        Assert.Equal(3, byOwner.Ok?.MemberCount);
        Assert.DoesNotContain(theirs, await MembersAsync(group));
        var listed = Assert.Single((await _h.OkAsync<ListGroups, GroupList>(new ListGroups(friends[0]))).Items);
        Assert.Equal(GroupInvitePolicies.Admins, listed.InvitePolicy);

        Assert.Equal(GroupInvitePolicies.Members, (await SetPolicyAsync(owner, group, GroupInvitePolicies.Members)).Ok?.InvitePolicy);
        Assert.Equal(4, (await InviteAsync(friends[0], group, [theirs])).Ok?.MemberCount);
        await _h.AssertNoFaultsAsync();
    }

    [Fact]
    public async Task Only_the_owner_may_change_a_groups_settings_and_only_to_a_known_policy()
    {
        var (owner, friends) = await OwnerWithFriendsAsync(1);
        var group = (await CreateAsync(owner, [friends[0]])).Ok!.GroupId;
        var outsider = await _h.NewUserAsync();

        var byMember = await SetPolicyAsync(friends[0], group, GroupInvitePolicies.Admins);
        var byOutsider = await SetPolicyAsync(outsider, group, GroupInvitePolicies.Admins);
        var unknownGroup = await SetPolicyAsync(owner, 4242, GroupInvitePolicies.Admins);
        var unknownPolicy = await SetPolicyAsync(owner, group, "everyone");
        var unchanged = await SetPolicyAsync(owner, group, null);

        Assert.Equal((403, "group_id"), (byMember.Rejected?.Code, byMember.Rejected?.Field));
        Assert.Equal((403, "group_id"), (byOutsider.Rejected?.Code, byOutsider.Rejected?.Field));
        Assert.Equal(404, unknownGroup.Rejected?.Code);
        Assert.Equal((400, "invite_policy"), (unknownPolicy.Rejected?.Code, unknownPolicy.Rejected?.Field));
        Assert.Equal(GroupInvitePolicies.Members, unchanged.Ok?.InvitePolicy);
        Assert.Equal(GroupInvitePolicy.Members, await _h.WithDbAsync(db => db.Groups.Where(g => g.Id == group).Select(g => g.InvitePolicy).SingleAsync()));
        await _h.AssertNoFaultsAsync();
    }

    [Fact]
    public async Task An_invite_racing_a_change_to_the_admins_policy_is_judged_under_the_new_policy()
    {
        var (owner, friends) = await OwnerWithFriendsAsync(1);
        var group = (await CreateAsync(owner, [friends[0]])).Ok!.GroupId;
        var theirs = await BefriendAsync(friends[0], await _h.NewUserAsync());
        // The owner's change commits between the member's checks and its save.
        _h.Hook.BeforeNextSave(async () => Assert.NotNull((await SetPolicyAsync(owner, group, GroupInvitePolicies.Admins)).Ok));

        var invite = await InviteAsync(friends[0], group, [theirs]);

        Assert.Equal(403, invite.Rejected?.Code);
        Assert.DoesNotContain(theirs, await MembersAsync(group));
        await _h.AssertNoFaultsAsync();
    }

    [Fact]
    public async Task New_groups_take_the_configured_default_invite_policy()
    {
        await using var h = await FriendsHarness.StartAsync(new FriendsOptions { DefaultInvitePolicy = GroupInvitePolicy.Admins });
        var owner = await h.NewUserAsync();

        var group = await h.OkAsync<CreateGroup, GroupCreated>(new CreateGroup(owner, "strict", []));

        var listed = Assert.Single((await h.OkAsync<ListGroups, GroupList>(new ListGroups(owner))).Items);
        Assert.Equal((group.GroupId, GroupInvitePolicies.Admins), (listed.Id, listed.InvitePolicy));
    }

    [Fact]
    public async Task A_user_in_as_many_groups_as_allowed_can_neither_create_nor_be_added_to_another()
    {
        var (owner, friends) = await OwnerWithFriendsAsync(1);
        var other = await _h.NewUserAsync();
        await BefriendAsync(other, friends[0]);
        for (var i = 0; i < MaxGroups; i++)
            Assert.NotNull((await CreateAsync(owner, [friends[0]])).Ok);
        var othersGroup = (await CreateAsync(other, [])).Ok!.GroupId;

        var create = await CreateAsync(owner, []);
        var createWithFull = await CreateAsync(other, [friends[0]]);
        var invite = await InviteAsync(other, othersGroup, [friends[0]]);

        Assert.Equal((409, "member_ids"), (create.Rejected?.Code, create.Rejected?.Field));
        Assert.Contains("you are a member of", create.Rejected!.Message);
        Assert.Equal(409, createWithFull.Rejected?.Code);
        Assert.Contains(friends[0].ToString(), createWithFull.Rejected!.Message);
        Assert.Equal((409, "user_ids"), (invite.Rejected?.Code, invite.Rejected?.Field));
        Assert.Equal(MaxGroups, await _h.WithDbAsync(db => db.GroupMembers.CountAsync(m => m.UserId == friends[0])));
        // Leaving one makes room.
        var first = await _h.WithDbAsync(db => db.GroupMembers.Where(m => m.UserId == owner).Select(m => m.GroupId).FirstAsync());
        await _h.OkAsync<LeaveGroup, GroupMembersChanged>(new LeaveGroup(owner, first));
        Assert.NotNull((await CreateAsync(owner, [])).Ok);
        await _h.AssertNoFaultsAsync();
    }

    [Fact]
    public async Task A_user_with_as_many_friend_requests_waiting_as_allowed_is_refused_429_until_one_is_answered()
    {
        var me = await _h.NewUserAsync();
        var invitees = new List<long>();
        for (var i = 0; i <= MaxPending; i++)
            invitees.Add(await _h.NewUserAsync());
        var sent = new List<FriendRequestSent>();
        for (var i = 0; i < MaxPending; i++)
            sent.Add(await _h.OkAsync<SendFriendRequest, FriendRequestSent>(new SendFriendRequest(me, invitees[i], null)));
        var pushes = _h.Announced().Count;

        var over = await _h.AskAsync<SendFriendRequest, FriendRequestSent>(new SendFriendRequest(me, invitees[^1], "one more"));

        Assert.Equal(429, over.Rejected?.Code);
        Assert.Contains($"{MaxPending} friend requests waiting", over.Rejected!.Message);
        Assert.Equal(MaxPending, await _h.WithDbAsync(db => db.FriendRequests.CountAsync(r => r.FromUserId == me)));
        Assert.Equal(pushes, _h.Announced().Count);
        // Requests to the inviter are not theirs to answer for: others may still invite them.
        Assert.NotNull((await _h.AskAsync<SendFriendRequest, FriendRequestSent>(new SendFriendRequest(invitees[^1], me, null))).Ok);

        await _h.OkAsync<RejectFriendRequest, FriendRequestDeclined>(new RejectFriendRequest(invitees[0], sent[0].RequestId));
        var afterAnswer = await _h.AskAsync<SendFriendRequest, FriendRequestSent>(new SendFriendRequest(me, await _h.NewUserAsync(), null));
        Assert.NotNull(afterAnswer.Ok);
        await _h.AssertNoFaultsAsync();
    }

    [Theory]
    [InlineData("a\u0000b")]
    [InlineData("bell\u0007")]
    [InlineData("\u001b[31mred")]
    [InlineData("next line\u0085")]
    public async Task A_friend_request_note_the_stores_cannot_take_is_refused_400_naming_msg(string note)
    {
        var alice = await _h.NewUserAsync();
        var bob = await _h.NewUserAsync();

        var sent = await _h.AskAsync<SendFriendRequest, FriendRequestSent>(new SendFriendRequest(alice, bob, note));

        Assert.Equal((400, "msg"), (sent.Rejected?.Code, sent.Rejected?.Field));
        Assert.Equal(0, await _h.WithDbAsync(db => db.FriendRequests.CountAsync()));
        Assert.Empty(_h.Announced());
        await _h.AssertNoFaultsAsync();
    }

    [Fact]
    public async Task A_note_may_hold_line_breaks_tabs_and_any_script()
    {
        var alice = await _h.NewUserAsync();
        var bob = await _h.NewUserAsync();

        var sent = await _h.AskAsync<SendFriendRequest, FriendRequestSent>(new SendFriendRequest(alice, bob, "hi\r\n\tit's me 😀 小红"));

        Assert.NotNull(sent.Ok);
    }

    [Theory]
    [InlineData("bob\u0000")]
    [InlineData("a\nb")]
    public async Task A_search_keyword_the_stores_cannot_take_is_refused_400_naming_keyword(string keyword)
    {
        var me = await _h.NewUserAsync();

        var found = await _h.AskAsync<SearchUsers, UserList>(new SearchUsers(me, keyword, 20));

        Assert.Equal((400, "keyword"), (found.Rejected?.Code, found.Rejected?.Field));
        await _h.AssertNoFaultsAsync();
    }

    /// <summary>
    /// Unpaired surrogates have no UTF-8 form: PostgreSQL's driver throws on them. The bus's JSON turns them
    /// into U+FFFD on the way, but the gateway checks names and keywords with the same rules before that.
    /// Built here, not in attributes, whose strings cannot hold a lone surrogate.
    /// </summary>
    public static TheoryData<string> UnpairedSurrogates() => new()
    {
        "half " + (char)0xD83D + " pair",
        "reversed " + (char)0xDC00 + (char)0xD83D,
        "ends high " + (char)0xD83D,
        (char)0xDFFF + " starts low",
    };

    [Theory]
    [MemberData(nameof(UnpairedSurrogates), DisableDiscoveryEnumeration = true)]
    public void Text_with_an_unpaired_surrogate_is_refused_by_every_friends_text_rule(string text)
    {
        Assert.Equal("msg", FriendRules.CheckMessage(text)?.Field);
        Assert.Equal("name", FriendRules.CheckGroupName(text)?.Field);
        Assert.Equal("keyword", FriendRules.CheckKeyword(text)?.Field);
        Assert.Null(FriendRules.CheckMessage("a pair is fine: 😀"));
    }

    [Theory]
    [InlineData("MaxGroupMembers", "1")]
    [InlineData("MaxGroupMembers", "lots")]
    [InlineData("MaxGroupsPerUser", "0")]
    [InlineData("MaxPendingFriendRequests", "-5")]
    [InlineData("DefaultInvitePolicy", "Everyone")]
    [InlineData("DefaultInvitePolicy", "7")]
    public void A_friends_setting_that_cannot_work_stops_the_start_naming_its_key(string key, string value)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [$"Friends:{key}"] = value }).Build();

        var error = Assert.Throws<StartupException>(() => FriendsOptions.Read(configuration));

        Assert.Contains($"Friends:{key}", error.Message);
        Assert.Contains(value, error.Message);
    }

    [Fact]
    public void Friends_settings_default_to_the_documented_values_and_read_case_insensitively()
    {
        var defaults = FriendsOptions.Read(new ConfigurationBuilder().Build());
        var set = FriendsOptions.Read(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Friends:MaxGroupMembers"] = "5",
            ["Friends:DefaultInvitePolicy"] = "admins",
        }).Build());

        Assert.Equal((2000, 500, 100, GroupInvitePolicy.Members),
            (defaults.MaxGroupMembers, defaults.MaxGroupsPerUser, defaults.MaxPendingFriendRequests, defaults.DefaultInvitePolicy));
        Assert.Equal((5, GroupInvitePolicy.Admins), (set.MaxGroupMembers, set.DefaultInvitePolicy));
    }
    [Fact]
    public async Task Blocking_past_the_cap_is_refused_with_429_naming_the_setting_while_repeating_a_block_and_unblocking_still_work()
    {
        var me = await _h.NewUserAsync();
        var others = new long[MaxBlocked + 1];
        for (var i = 0; i < others.Length; i++)
            others[i] = await _h.NewUserAsync();
        for (var i = 0; i < MaxBlocked; i++)
            Assert.True((await _h.OkAsync<BlockUser, BlockChanged>(new BlockUser(me, others[i]))).Blocked);

        var over = await _h.AskAsync<BlockUser, BlockChanged>(new BlockUser(me, others[^1]));
        var again = await _h.AskAsync<BlockUser, BlockChanged>(new BlockUser(me, others[0]));

        Assert.Equal(429, over.Rejected?.Code);
        Assert.Contains("Friends:MaxBlockedUsers", over.Rejected!.Message);
        Assert.NotNull(again.Ok);
        Assert.Equal(MaxBlocked, await _h.WithDbAsync(db => db.Blocks.CountAsync(b => b.UserId == me)));
        // Each block and unblock was applied to messaging's projection before its answer.
        Assert.Equal(MaxBlocked, _h.Messaging.Applied.OfType<UserBlockChanged>().Count(b => b.Blocked && b.UserId == me));
        Assert.False((await _h.OkAsync<UnblockUser, BlockChanged>(new UnblockUser(me, others[0]))).Blocked);
        Assert.NotNull((await _h.AskAsync<BlockUser, BlockChanged>(new BlockUser(me, others[^1]))).Ok);
        await _h.AssertNoFaultsAsync();
    }
}

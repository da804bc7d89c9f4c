using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EasyIm.Friends.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class UserUpdatesMovedToMessaging : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "user_update_heads");

            migrationBuilder.DropTable(
                name: "user_updates");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "user_update_heads",
                columns: table => new
                {
                    UserId = table.Column<long>(type: "INTEGER", nullable: false),
                    Last = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_user_update_heads", x => x.UserId);
                });

            migrationBuilder.CreateTable(
                name: "user_updates",
                columns: table => new
                {
                    UserId = table.Column<long>(type: "INTEGER", nullable: false),
                    Position = table.Column<long>(type: "INTEGER", nullable: false),
                    Content = table.Column<string>(type: "TEXT", nullable: false),
                    CreatedAtMs = table.Column<long>(type: "INTEGER", nullable: false),
                    FromUserId = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_user_updates", x => new { x.UserId, x.Position });
                });

            migrationBuilder.CreateIndex(
                name: "IX_user_updates_CreatedAtMs",
                table: "user_updates",
                column: "CreatedAtMs");
        }
    }
}

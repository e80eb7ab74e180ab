from neat.cli import main

main()

set terminal svg size 760,440 dynamic enhanced font 'Helvetica,12' background rgb 'white'
set output '/work/main/docs/bench-cpu.svg'
set title "server CPU (% of one core) vs clients\n{/*0.8 social scenario, server on 1 core of AMD EPYC (2026-11-24 18:11)}"
set xlabel 'clients'
set ylabel 'server CPU (% of one core)'
set grid
set key bottom right box opaque
set xrange [0:*]
set yrange [0:*]
plot '/work/main/bench/results/2026-11-24-1811/curve-plaza.dat' using 1:2 with linespoints lw 2 pt 7 ps 0.7 lc rgb '#1f77b4' title 'plaza', '/work/main/bench/results/2026-11-24-1811/curve-peer.dat' using 1:2 with linespoints lw 2 pt 7 ps 0.7 lc rgb '#d62728' title 'Socket.io peer'
